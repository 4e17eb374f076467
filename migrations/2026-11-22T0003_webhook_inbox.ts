import { type Kysely, sql } from 'kysely';

/**
 * The webhook inbox: every verified vendor webhook, stored before the vendor gets its 2xx and
 * deduplicated by the vendor's event id, so a replay is acknowledged but processed once. Webhooks arrive
 * before their tenant is known (a vendor account, not a tenant, sends them): the gateway stores them as
 * `lock_dispatcher`, the role that already works across tenants, and routing resolves the tenant later.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE webhook_inbox (
      id bigserial PRIMARY KEY,
      vendor text NOT NULL,
      event_id text NOT NULL,
      body jsonb NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      tenant_id text,
      routed_at timestamptz,
      UNIQUE (vendor, event_id)
    );
    CREATE INDEX webhook_inbox_unrouted ON webhook_inbox (id) WHERE routed_at IS NULL;

    ALTER TABLE webhook_inbox ENABLE ROW LEVEL SECURITY;
    ALTER TABLE webhook_inbox FORCE ROW LEVEL SECURITY;
    CREATE POLICY dispatch_all_tenants ON webhook_inbox TO lock_dispatcher USING (true) WITH CHECK (true);
    CREATE POLICY tenant_isolation ON webhook_inbox TO lock_runtime
      USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    GRANT SELECT, INSERT, UPDATE ON webhook_inbox TO lock_dispatcher;
    GRANT USAGE ON SEQUENCE webhook_inbox_id_seq TO lock_dispatcher;
    GRANT SELECT ON webhook_inbox TO lock_runtime;
  `.execute(db);
}
