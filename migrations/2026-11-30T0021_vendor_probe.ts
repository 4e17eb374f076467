import { type Kysely, sql } from 'kysely';

/**
 * The synthetic vendor check (`src/jobs/vendorProbe.ts`) probes every configured adapter, across tenants. The
 * dispatcher role sees no properties; this one function (SECURITY DEFINER, fixed search_path, as migration
 * 0004's) answers exactly that: (tenant, property, vendor) of each adapter that is active or provisional —
 * never its configuration or secrets.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // The function runs as its owner, the migrating role: without a policy of its own, row-level security
  // (forced on properties) would show it no rows once that role is not a superuser, as in 0010.
  await sql`
    CREATE POLICY owner_definer ON properties FOR SELECT TO CURRENT_USER USING (true);
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
