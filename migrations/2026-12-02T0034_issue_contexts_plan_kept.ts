import { type Kysely, sql } from 'kysely';

/**
 * `lock_issue_contexts` (the platform path's batched read of issue contexts) keeps one plan for its context
 * statement, as migration 0032 made `lock_issue_context_of` do for the REST path's.
 *
 * The statement's parameters are the loop's record (a property, an array of rooms). For a one-room array a
 * custom plan looks cheaper on paper than the generic one, so PostgreSQL planned the statement again for every
 * request: with `pg_stat_statements.track_planning` on, 10,000 event-driven issues made 10,006 plans, 1.47 s of
 * planning beside 0.55 s of execution (a third of PostgreSQL's time in the run's issue contexts). The generic
 * plan looks each room up by key as the custom ones did (`test/integration/plansByKey.test.ts` counts the rows
 * it reads).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER FUNCTION lock_issue_contexts(jsonb) SET plan_cache_mode = force_generic_plan`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER FUNCTION lock_issue_contexts(jsonb) RESET plan_cache_mode`.execute(db);
}
