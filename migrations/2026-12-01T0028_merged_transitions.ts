import { type Kysely, sql } from 'kysely';

/**
 * A group-commit member may carry several transitions of one actor: a transition and those that applied the
 * answers of the vendor calls it ran in the actor's turn (`partitionWorker.ts`, "vendor calls in the turn").
 * Its `audit` is then an array of entries, one per transition, in order; a single transition's is the entry
 * itself, as before. Each entry still becomes one row of the tenant's chain. The function is taken as it is
 * and only this is changed, as in migrations 0014, 0024, 0026 and 0027.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_functiondef('lock_commit_batch(jsonb)'::regprocedure) AS def`.execute(db);
  let def = rows[0]?.def ?? '';
  const from =
    "        v_audit_tenants := array_append(v_audit_tenants, v_tenant);\n        v_audit_entries := array_append(v_audit_entries, m->>'audit');\n";
  const to = `        IF jsonb_typeof(m->'audit') = 'array' THEN
          SELECT v_audit_tenants || array_agg(v_tenant ORDER BY a.ord), v_audit_entries || array_agg(a.e ORDER BY a.ord)
            INTO v_audit_tenants, v_audit_entries
            FROM jsonb_array_elements_text(m->'audit') WITH ORDINALITY AS a(e, ord);
        ELSE
          v_audit_tenants := array_append(v_audit_tenants, v_tenant);
          v_audit_entries := array_append(v_audit_entries, m->>'audit');
        END IF;
`;
  if (def.split(from).length !== 2)
    throw new Error('lock_commit_batch is not the function migration 0027 left');
  def = def.replace(from, to);
  await sql.raw(def).execute(db);
}
