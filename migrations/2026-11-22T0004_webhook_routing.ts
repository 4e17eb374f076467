import { type Kysely, sql } from 'kysely';

/**
 * Routing a webhook needs the lock device a vendor reference names, before any tenant is known. The
 * dispatcher role sees no lock devices; this one function (SECURITY DEFINER, owned by the migrating
 * role, fixed search_path) answers exactly that question and nothing else: (tenant, device id) for
 * each (vendor, ref) that is registered and not decommissioned.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION lock_devices_by_vendor_ref(p_vendor text, p_refs text[])
    RETURNS TABLE (tenant_id text, device_id text, vendor_device_ref text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
      SELECT d.tenant_id, d.id, d.vendor_device_ref FROM lock_devices d
       WHERE d.vendor = p_vendor AND d.vendor_device_ref = ANY (p_refs) AND d.status <> 'decommissioned'
    $$;
    REVOKE ALL ON FUNCTION lock_devices_by_vendor_ref(text, text[]) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_devices_by_vendor_ref(text, text[]) TO lock_dispatcher;
  `.execute(db);
}
