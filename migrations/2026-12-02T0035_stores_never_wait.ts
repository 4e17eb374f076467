import { type Kysely, sql } from 'kysely';

/**
 * An Idempotency-Key's answer is stored without waiting for a row lock (`lock_timeout` of 1 ms for
 * `lock_idempotency_stores`): a key another transaction holds (another process taking over its lapsed claim, or
 * storing its own answer) fails that store alone (55P03), and the answer is stored there or not at all — a lost
 * store leaves the claim to lapse, and the same request re-run answers from what was applied.
 *
 * Why: a round of the REST path's calls sends its claims and its stores in one statement (one transaction). Claims
 * lock their keys in key order in every process, so they never wait on each other in a cycle; a store that could
 * wait, holding what the round's claims took, could: a round of process 1 that took over key A's lapsed claim and
 * waits to claim B, while process 2's round holds B (its store) and waits to store A. A store that never waits
 * closes that cycle.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER FUNCTION lock_idempotency_stores(jsonb) SET lock_timeout = '1ms'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER FUNCTION lock_idempotency_stores(jsonb) RESET lock_timeout`.execute(db);
}
