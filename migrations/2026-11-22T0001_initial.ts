import { type Kysely, sql } from 'kysely';

/**
 * The record: actor snapshots, read models, outbox, effect intents, durable timers, idempotency keys,
 * rejected messages and the audit log. Every tenant table has `tenant_id` under FORCE ROW LEVEL SECURITY.
 *
 * Roles (NOBYPASSRLS, created once per cluster):
 * - lock_runtime: actors and gateway; sees only the tenant set by `set_config('app.tenant_id', …, true)`;
 * - lock_dispatcher: the outbox relay, timer dispatcher and effect sweeper, which work across tenants on
 *   those three tables only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lock_runtime') THEN
        CREATE ROLE lock_runtime LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
      END IF;
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lock_dispatcher') THEN
        CREATE ROLE lock_dispatcher LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
      END IF;
    END $$;
  `.execute(db);

  await sql`
    CREATE FUNCTION app_tenant() RETURNS text LANGUAGE sql STABLE
      AS $$ SELECT nullif(current_setting('app.tenant_id', true), '') $$;

    CREATE TABLE actor_snapshots (
      tenant_id text NOT NULL,
      actor_type text NOT NULL,
      actor_id text NOT NULL,
      version bigint NOT NULL,
      last_seq bigint NOT NULL,
      machine_version int NOT NULL,
      snapshot jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (actor_type, actor_id)
    );

    CREATE TABLE partition_fences (
      partition int PRIMARY KEY,
      fence bigint NOT NULL,
      owner text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE properties (
      tenant_id text NOT NULL,
      id text PRIMARY KEY,
      name text NOT NULL,
      timezone text NOT NULL,
      vendor_adapters jsonb NOT NULL DEFAULT '{}',
      key_kind_policy jsonb NOT NULL DEFAULT '{}',
      version bigint NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE INDEX properties_tenant ON properties (tenant_id, created_at, id);

    CREATE TABLE lock_devices (
      tenant_id text NOT NULL,
      id text PRIMARY KEY,
      property_id text NOT NULL,
      room_id text NOT NULL,
      vendor text NOT NULL,
      vendor_device_ref text NOT NULL,
      areas text[] NOT NULL DEFAULT '{}',
      status text NOT NULL,
      version bigint NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE UNIQUE INDEX lock_devices_vendor_ref ON lock_devices (tenant_id, property_id, vendor, vendor_device_ref)
      WHERE status <> 'decommissioned';
    CREATE INDEX lock_devices_room ON lock_devices (tenant_id, property_id, room_id);

    CREATE TABLE key_credentials (
      tenant_id text NOT NULL,
      id text PRIMARY KEY,
      property_id text NOT NULL,
      reservation_id text,
      holder_kind text NOT NULL,
      holder_ref text NOT NULL,
      kind text NOT NULL,
      rooms text[] NOT NULL,
      areas text[] NOT NULL,
      valid_from timestamptz NOT NULL,
      valid_until timestamptz NOT NULL,
      vendor text,
      status text NOT NULL,
      grants jsonb NOT NULL,
      failure jsonb,
      version bigint NOT NULL,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    );
    CREATE INDEX key_credentials_property ON key_credentials (tenant_id, property_id, created_at, id);
    CREATE INDEX key_credentials_reservation ON key_credentials (tenant_id, reservation_id) WHERE reservation_id IS NOT NULL;

    CREATE TABLE outbox (
      tenant_id text NOT NULL,
      id bigserial PRIMARY KEY,
      event_id text NOT NULL UNIQUE,
      subject text NOT NULL,
      payload jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE effect_intents (
      tenant_id text NOT NULL,
      id text PRIMARY KEY,
      actor_type text NOT NULL,
      actor_id text NOT NULL,
      operation_id text NOT NULL,
      intent jsonb NOT NULL,
      runs int NOT NULL DEFAULT 0,
      claimed_until timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX effect_intents_claim ON effect_intents (claimed_until);

    CREATE TABLE timers (
      tenant_id text NOT NULL,
      actor_type text NOT NULL,
      actor_id text NOT NULL,
      key text NOT NULL,
      due_at timestamptz NOT NULL,
      event jsonb NOT NULL,
      PRIMARY KEY (actor_type, actor_id, key)
    );
    CREATE INDEX timers_due ON timers (due_at);

    CREATE TABLE idempotency_keys (
      tenant_id text NOT NULL,
      key text NOT NULL,
      scope text NOT NULL,
      request_hash text NOT NULL,
      status_code int,
      response jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, scope, key)
    );

    CREATE TABLE rejected_messages (
      tenant_id text NOT NULL,
      id bigserial PRIMARY KEY,
      actor_type text NOT NULL,
      actor_id text NOT NULL,
      msg_id text,
      stream_seq bigint,
      code text NOT NULL,
      reason text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE audit_heads (
      tenant_id text PRIMARY KEY,
      seq bigint NOT NULL,
      hash bytea NOT NULL
    );

    CREATE TABLE audit_log (
      tenant_id text NOT NULL,
      seq bigint NOT NULL,
      entry text NOT NULL,
      prev_hash bytea NOT NULL,
      hash bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, seq)
    );

    -- The chain: each entry's hash covers the previous hash and the entry's canonical text. The head row
    -- lock serialises appends per tenant across every process.
    CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE head audit_heads%ROWTYPE;
    BEGIN
      INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (NEW.tenant_id, 0, '\\x'::bytea)
        ON CONFLICT (tenant_id) DO NOTHING;
      SELECT * INTO head FROM audit_heads WHERE tenant_id = NEW.tenant_id FOR UPDATE;
      NEW.seq := head.seq + 1;
      NEW.prev_hash := head.hash;
      NEW.hash := sha256(head.hash || convert_to(NEW.entry, 'UTF8'));
      UPDATE audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE tenant_id = NEW.tenant_id;
      RETURN NEW;
    END $$;
    CREATE TRIGGER audit_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_chain();

    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
  `.execute(db);

  const tenantTables = [
    'actor_snapshots',
    'properties',
    'lock_devices',
    'key_credentials',
    'outbox',
    'effect_intents',
    'timers',
    'idempotency_keys',
    'rejected_messages',
    'audit_heads',
    'audit_log',
  ];
  for (const t of tenantTables) {
    await sql`
      ALTER TABLE ${sql.table(t)} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${sql.table(t)} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${sql.table(t)} TO lock_runtime
        USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    `.execute(db);
  }
  for (const t of ['outbox', 'effect_intents', 'timers']) {
    await sql`CREATE POLICY dispatch_all_tenants ON ${sql.table(t)} TO lock_dispatcher USING (true) WITH CHECK (true)`.execute(
      db,
    );
  }
  // kysely's own bookkeeping: no role but the owner touches it.
  await sql`
    ALTER TABLE kysely_migration ENABLE ROW LEVEL SECURITY;
    ALTER TABLE kysely_migration_lock ENABLE ROW LEVEL SECURITY;
  `.execute(db);
  // Fences are per partition, not per tenant: RLS is on, and only the runtime role has a policy.
  await sql`
    ALTER TABLE partition_fences ENABLE ROW LEVEL SECURITY;
    ALTER TABLE partition_fences FORCE ROW LEVEL SECURITY;
    CREATE POLICY runtime_fences ON partition_fences TO lock_runtime USING (true) WITH CHECK (true);

    GRANT USAGE ON SCHEMA public TO lock_runtime, lock_dispatcher;
    GRANT SELECT, INSERT, UPDATE, DELETE ON actor_snapshots, properties, lock_devices, key_credentials,
      outbox, effect_intents, timers, idempotency_keys, partition_fences TO lock_runtime;
    GRANT SELECT, INSERT ON rejected_messages, audit_log TO lock_runtime;
    GRANT SELECT, INSERT, UPDATE ON audit_heads TO lock_runtime;
    GRANT USAGE ON SEQUENCE outbox_id_seq, rejected_messages_id_seq TO lock_runtime;
    GRANT SELECT, UPDATE, DELETE ON outbox, effect_intents, timers TO lock_dispatcher;
  `.execute(db);
}
