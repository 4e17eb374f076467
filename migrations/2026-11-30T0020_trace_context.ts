import { type Kysely, sql } from 'kysely';

/**
 * Tracing: the hops after a commit join the trace of the message it applied. Each commit member may carry
 * `trace` (a W3C `traceparent`); it is kept beside the outbox rows (the relay's publish continues the trace)
 * and the effect intents (the effect runner's, or a sweeper's, run continues it). Nullable columns added
 * without a default: no table rewrite. The function is taken as it is and only those two INSERTs change, as
 * in migration 0014.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE outbox ADD COLUMN trace text;
    ALTER TABLE effect_intents ADD COLUMN trace text;
  `.execute(db);
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_functiondef('lock_commit_batch(jsonb)'::regprocedure) AS def`.execute(db);
  let def = rows[0]?.def ?? '';
  const edits: [string, string][] = [
    [
      "INSERT INTO outbox (tenant_id, event_id, subject, payload)\n          SELECT v_tenant, o.value->>'eventId', o.value->>'subject', o.value->'payload'",
      "INSERT INTO outbox (tenant_id, event_id, subject, payload, trace)\n          SELECT v_tenant, o.value->>'eventId', o.value->>'subject', o.value->'payload', m->>'trace'",
    ],
    [
      "INSERT INTO effect_intents (tenant_id, id, actor_type, actor_id, operation_id, intent, claimed_until)\n          SELECT v_tenant, x->>'id', v_type, v_id, x->>'operationId', x->'intent',",
      "INSERT INTO effect_intents (tenant_id, id, actor_type, actor_id, operation_id, intent, trace, claimed_until)\n          SELECT v_tenant, x->>'id', v_type, v_id, x->>'operationId', x->'intent', m->>'trace',",
    ],
  ];
  for (const [before, after] of edits) {
    if (def.split(before).length !== 2)
      throw new Error('lock_commit_batch is not the function migration 0014 left');
    def = def.replace(before, after);
  }
  await sql.raw(def).execute(db);
}
