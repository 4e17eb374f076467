import { type Kysely, sql } from 'kysely';

/**
 * A message delivered in process has no place in the inbox stream, so the stream's sequence cannot tell a
 * repeat of it (its commit landed while the client saw a connection error, and it was decided again). What it
 * carries can: the effect intent or timer it answers is deleted by the commit that applies it. A member marked
 * `once` is refused (`LOCK.ALREADY_APPLIED`, nothing written) when the row it names is gone; the row is locked
 * while its commit decides, so two commits of one message cannot both find it. The function is taken as it is
 * and only this check is added, as in migration 0014.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_functiondef('lock_commit_batch(jsonb)'::regprocedure) AS def`.execute(db);
  let def = rows[0]?.def ?? '';
  const before = "PERFORM set_config('app.tenant_id', v_tenant, true);\n";
  const check = `${before}        IF (m->>'once')::boolean IS TRUE THEN
          IF jsonb_array_length(coalesce(m->'consumedIntents', '[]'::jsonb)) > 0 THEN
            PERFORM 1 FROM effect_intents
             WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(m->'consumedIntents'))) FOR UPDATE;
            IF NOT FOUND THEN
              member := (m->>'i')::int; refused := 'LOCK.ALREADY_APPLIED'; RETURN NEXT; CONTINUE;
            END IF;
          END IF;
          IF jsonb_typeof(m->'consumedTimer') = 'object' THEN
            PERFORM 1 FROM timers
             WHERE actor_type = v_type AND actor_id = v_id AND key = m->'consumedTimer'->>'key'
               AND due_at = (m->'consumedTimer'->>'dueAt')::timestamptz FOR UPDATE;
            IF NOT FOUND THEN
              member := (m->>'i')::int; refused := 'LOCK.ALREADY_APPLIED'; RETURN NEXT; CONTINUE;
            END IF;
          END IF;
        END IF;
`;
  if (def.split(before).length !== 2)
    throw new Error('lock_commit_batch is not the function migration 0020 left');
  def = def.replace(before, check);
  await sql.raw(def).execute(db);
}
