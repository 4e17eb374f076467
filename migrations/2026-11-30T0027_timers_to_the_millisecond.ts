import { type Kysely, sql } from 'kysely';

/**
 * Timers are due to the millisecond. A stay's end sent with microseconds (Java's Instant, Python's
 * isoformat) was kept to the microsecond, while the timer's delivery names its due time as JavaScript has it
 * (milliseconds): the at-most-once check (migration 0024) then found no row, refused the expiry as applied,
 * and the credential never expired. Due times are cut to the millisecond where they are written, and those
 * already kept are cut too (a timer's key, not its due time, identifies it: nothing collides).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_functiondef('lock_commit_batch(jsonb)'::regprocedure) AS def`.execute(db);
  let def = rows[0]?.def ?? '';
  const from = "SELECT v_tenant, v_type, v_id, t->>'key', (t->>'dueAt')::timestamptz, t->'event'";
  const to =
    "SELECT v_tenant, v_type, v_id, t->>'key', date_trunc('milliseconds', (t->>'dueAt')::timestamptz), t->'event'";
  if (def.split(from).length !== 2)
    throw new Error('lock_commit_batch is not the function migration 0026 left');
  def = def.replace(from, to);
  await sql.raw(def).execute(db);
  await sql`
    UPDATE timers SET due_at = date_trunc('milliseconds', due_at)
     WHERE due_at <> date_trunc('milliseconds', due_at)`.execute(db);
}
