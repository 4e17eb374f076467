import { type Kysely, sql } from 'kysely';

/**
 * The synthetic vendor check (`src/jobs/vendorProbe.ts`) probes every configured adapter, across tenants. The
 * dispatcher role sees no properties; this one function (SECURITY DEFINER, fixed search_path, as migration
 * 0004's) answers exactly that: (tenant, property, vendor) of each adapter that is active or provisional —
 * never its configuration or secrets.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION lock_configured_adapters()
    RETURNS TABLE (tenant_id text, property_id text, vendor text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
      SELECT p.tenant_id, p.id, a.key FROM properties p, jsonb_each(p.vendor_adapters) a
       WHERE a.value->>'status' IN ('active', 'provisional')
       ORDER BY p.tenant_id, p.id, a.key
    $$;
    REVOKE ALL ON FUNCTION lock_configured_adapters() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_configured_adapters() TO lock_dispatcher;
  `.execute(db);
}
