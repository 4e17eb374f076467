import { type Kysely, sql } from 'kysely';

/**
 * Offline-issuance certificates issued to desk agents (`docs/desktop-agent.md`): each one recorded, so a
 * revoked agent's certificates are on the revocation list and a provisional credential issued under one is
 * checked against it at reconciliation. Tenant-isolated; the runtime role may record and revoke, never delete.
 * Also `desktop_operations`: the desk agent each encode operation was first sent to.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE offline_certificates (
      serial text PRIMARY KEY,
      tenant_id text NOT NULL,
      property_id text NOT NULL,
      agent_id text NOT NULL REFERENCES desktop_agents (id),
      not_before timestamptz NOT NULL,
      not_after timestamptz NOT NULL,
      key_id text NOT NULL,
      issued_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz,
      revoked_reason text
    );
    CREATE INDEX offline_certificates_agent ON offline_certificates (tenant_id, agent_id);
    ALTER TABLE offline_certificates ENABLE ROW LEVEL SECURITY;
    ALTER TABLE offline_certificates FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON offline_certificates TO lock_runtime
      USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    GRANT SELECT, INSERT, UPDATE (revoked_at, revoked_reason) ON offline_certificates TO lock_runtime;

    -- Which desk agent an encode operation was first sent to: every retry goes there, and only it can say
    -- whether it wrote a card.
    CREATE TABLE desktop_operations (
      tenant_id text NOT NULL,
      operation_id text NOT NULL,
      agent_id text NOT NULL REFERENCES desktop_agents (id),
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, operation_id)
    );
    ALTER TABLE desktop_operations ENABLE ROW LEVEL SECURITY;
    ALTER TABLE desktop_operations FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON desktop_operations TO lock_runtime
      USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    GRANT SELECT, INSERT ON desktop_operations TO lock_runtime;
  `.execute(db);
}
