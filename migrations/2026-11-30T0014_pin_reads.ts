import { type Kysely, sql } from 'kysely';

/**
 * A PIN a vendor chose anew after the issue (a room moved onto a vendor that chooses PINs) is readable once,
 * by the credential's issuer:
 * - `key_credentials.issued_by`: the REST caller who asked for the credential (`user:<subject>`), written by
 *   the commit's upsert when the row is made (never changed after). The function is taken as it is and only
 *   the credential INSERT is changed, so nothing else of it can drift from migrations 0006 and 0013.
 * - `credential_pin_reads`: one row per (credential, PIN) read; its primary key makes the read once-only
 *   across processes; a retry of that read (same caller, same Idempotency-Key) is answered again. Tenant-isolated
 *   like every table.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE key_credentials ADD COLUMN issued_by text`.execute(db);
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_functiondef('lock_commit_batch(jsonb)'::regprocedure) AS def`.execute(db);
  let def = rows[0]?.def ?? '';
  const edits: [string, string][] = [
    [
      'rooms, areas, valid_from, valid_until, vendor, status, grants, failure, version, created_at, updated_at)',
      'rooms, areas, valid_from, valid_until, vendor, status, grants, failure, version, created_at, updated_at,\n                issued_by)',
    ],
    [
      "(r->>'created_at')::timestamptz, (r->>'updated_at')::timestamptz)\n            ON CONFLICT (id) DO UPDATE SET status = excluded.status, grants = excluded.grants,",
      "(r->>'created_at')::timestamptz, (r->>'updated_at')::timestamptz, r->>'issued_by')\n            ON CONFLICT (id) DO UPDATE SET status = excluded.status, grants = excluded.grants,",
    ],
  ];
  for (const [before, after] of edits) {
    if (def.split(before).length !== 2)
      throw new Error('lock_commit_batch is not the function migration 0013 left');
    def = def.replace(before, after);
  }
  await sql.raw(def).execute(db);
  await sql`
    CREATE TABLE credential_pin_reads (
      tenant_id text NOT NULL,
      credential_id text NOT NULL,
      pin_ref text NOT NULL,
      read_by text NOT NULL,
      -- The read's Idempotency-Key: the same caller asking again with it (an answer lost) gets the same PINs.
      read_key text,
      read_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, credential_id, pin_ref)
    );
    ALTER TABLE credential_pin_reads ENABLE ROW LEVEL SECURITY;
    ALTER TABLE credential_pin_reads FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON credential_pin_reads TO lock_runtime
      USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
    GRANT SELECT, INSERT ON credential_pin_reads TO lock_runtime;
  `.execute(db);
}
