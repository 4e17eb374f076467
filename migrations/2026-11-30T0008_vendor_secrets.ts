import { type Kysely, sql } from 'kysely';

/**
 * Vendor secrets per tenant, envelope-encrypted (src/io/crypto/tenantKeys.ts):
 * - `tenant_keys`: each tenant's data key, wrapped by the key-encryption key (Cloud KMS or a local key
 *   file) named in `kek`; never stored in clear.
 * - `vendor_secrets`: a property adapter's secrets by name and version, sealed with the tenant's data key
 *   (the row's identity is the cipher's associated data, so a sealed value copied elsewhere does not open).
 *   The newest version is current; older ones are destroyed after the next successful call with it.
 * Both under FORCE ROW LEVEL SECURITY like every tenant table; the runtime role may not update a secret in
 * place (a new version is a new row).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE tenant_keys (
      tenant_id text PRIMARY KEY,
      kek text NOT NULL,
      wrapped text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE vendor_secrets (
      tenant_id text NOT NULL,
      property_id text NOT NULL,
      vendor text NOT NULL,
      name text NOT NULL,
      version int NOT NULL,
      sealed text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, property_id, vendor, name, version)
    );
  `.execute(db);
  for (const t of ['tenant_keys', 'vendor_secrets']) {
    await sql`
      ALTER TABLE ${sql.table(t)} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${sql.table(t)} FORCE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON ${sql.table(t)} TO lock_runtime
        USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    `.execute(db);
  }
  await sql`
    GRANT SELECT, INSERT ON tenant_keys TO lock_runtime;
    GRANT SELECT, INSERT, DELETE ON vendor_secrets TO lock_runtime;
  `.execute(db);
}
