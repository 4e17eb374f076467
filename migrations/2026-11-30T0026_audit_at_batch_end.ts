import { type Kysely, sql } from 'kysely';

/**
 * The group commit's audit entries are appended at the end of the batch, one INSERT per tenant, tenants in
 * order, instead of one per member where it stands:
 * - The tenant's audit-chain head row (locked by the chain's trigger until commit) is taken last: another
 *   process's batch for the tenant does all its other writes while this one commits, and waits only there.
 * - One INSERT per tenant instead of one per member (the chain's trigger still runs per row).
 * - Batches lock the heads of their tenants in one order (sorted), so two batches (of one process or two)
 *   never wait on each other in a cycle; in member order, a batch with tenants A then B and another with B
 *   then A could deadlock.
 * Each tenant's entries keep their members' order. The function is taken as it is and only this is
 * changed, as in migrations 0014 and 0024.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_functiondef('lock_commit_batch(jsonb)'::regprocedure) AS def`.execute(db);
  let def = rows[0]?.def ?? '';
  const edits: [string, string][] = [
    [
      '      v_id text;\n',
      '      v_id text;\n      v_audit_tenants text[] := ARRAY[]::text[];\n      v_audit_entries text[] := ARRAY[]::text[];\n      v_audit_tenant text;\n',
    ],
    [
      "        INSERT INTO audit_log (tenant_id, entry) VALUES (v_tenant, m->>'audit');\n",
      "        v_audit_tenants := array_append(v_audit_tenants, v_tenant);\n        v_audit_entries := array_append(v_audit_entries, m->>'audit');\n",
    ],
    [
      '      END LOOP;\n    END $function$',
      `      END LOOP;
      FOR v_audit_tenant IN SELECT DISTINCT t FROM unnest(v_audit_tenants) t ORDER BY 1 LOOP
        PERFORM set_config('app.tenant_id', v_audit_tenant, true);
        INSERT INTO audit_log (tenant_id, entry)
        SELECT v_audit_tenant, a.e FROM unnest(v_audit_tenants, v_audit_entries) WITH ORDINALITY AS a(t, e, ord)
         WHERE a.t = v_audit_tenant ORDER BY a.ord;
      END LOOP;
    END $function$`,
    ],
  ];
  for (const [from, to] of edits) {
    if (def.split(from).length !== 2)
      throw new Error('lock_commit_batch is not the function migration 0024 left');
    def = def.replace(from, to);
  }
  await sql.raw(def).execute(db);
}
