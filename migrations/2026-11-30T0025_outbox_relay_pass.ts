import { type Kysely, sql } from 'kysely';

/**
 * The outbox relay's pass in one statement instead of five round trips (begin, advisory lock, read,
 * delete, commit):
 * - One relay at a time across processes by a session-level advisory lock, taken (or, held, counted again)
 *   by each pass on the relay's own connection: it outlives the statement, so the pass publishes under it,
 *   and it ends with the connection (a process that dies hands over at once, as the transaction-scoped
 *   lock did). A pass without it reads and deletes nothing.
 * - The rows the previous pass published are deleted by the next one (the publisher keeps their ids): a
 *   crash in between only publishes them again, which JetStream's duplicate window drops.
 * - Committed without waiting for the WAL flush: a delete lost in a database crash only publishes its rows
 *   again (inside the 10-minute duplicate window), so durability buys nothing here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION lock_outbox_pass(p_done bigint[], p_limit int)
    RETURNS TABLE (id bigint, event_id text, subject text, payload jsonb, trace text)
    LANGUAGE plpgsql AS $$
    BEGIN
      IF NOT pg_try_advisory_lock(281280513) THEN RETURN; END IF; -- 0x10c40001, the relay's lock as before
      PERFORM set_config('synchronous_commit', 'off', true);
      IF cardinality(p_done) > 0 THEN
        DELETE FROM outbox o WHERE o.id = ANY (p_done);
      END IF;
      RETURN QUERY
        SELECT o.id, o.event_id, o.subject, o.payload, o.trace FROM outbox o ORDER BY o.id LIMIT p_limit;
    END $$;
    REVOKE ALL ON FUNCTION lock_outbox_pass(bigint[], int) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION lock_outbox_pass(bigint[], int) TO lock_dispatcher;
  `.execute(db);
}
