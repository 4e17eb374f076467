import { type Kysely, sql } from 'kysely';

/**
 * Desktop agents (the front desk's encoders, `docs/desktop-agent.md`): each enrolled with its Ed25519 public
 * key (the private key never leaves the desk), bound to one property, active until revoked.
 * - `desktop_agents`: tenant-isolated like every table.
 * - `lock_desktop_agent(id)`: what the desktop event consumer needs before it knows the tenant (an agent's
 *   messages name only their property and agent); SECURITY DEFINER, answering only that.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE desktop_agents (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      property_id text NOT NULL,
      name text NOT NULL,
      public_key text NOT NULL,
      status text NOT NULL DEFAULT 'active',
      created_by text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz,
      revoked_reason text,
      UNIQUE (tenant_id, property_id, name)
    );
    ALTER TABLE desktop_agents ENABLE ROW LEVEL SECURITY;
    ALTER TABLE desktop_agents FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON desktop_agents TO lock_runtime
      USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    CREATE POLICY owner_definer ON desktop_agents TO CURRENT_USER USING (true) WITH CHECK (true);
    GRANT SELECT, INSERT, UPDATE (status, revoked_at, revoked_reason) ON desktop_agents TO lock_runtime;

    CREATE FUNCTION lock_desktop_agent(p_id text)
    RETURNS TABLE (tenant_id text, property_id text, public_key text, status text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
      SELECT a.tenant_id, a.property_id, a.public_key, a.status FROM desktop_agents a WHERE a.id = p_id
    $$;
    REVOKE ALL ON FUNCTION lock_desktop_agent(text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_desktop_agent(text) TO lock_runtime;
  `.execute(db);
}
