import { type Kysely, sql } from 'kysely';

/**
 * The REST path's per-request calls, batched across the requests in flight (`src/io/db/batchedCalls.ts`): an
 * Idempotency-Key's claim and its stored answer, a journaled command, a credential's read. One statement for
 * many requests instead of one each: each round trip costs the gateway's process more CPU (a socket write
 * and read per query) than the database spends on the row. Each item is applied as its single-request
 * function does, under its own tenant (row-level security), in a subtransaction of its own: one item's error
 * is its answer alone. The journal keeps the sender's trace context, so a sweeper's resend joins the trace.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION lock_idempotency_claims(items jsonb)
    RETURNS TABLE (i int, claimed boolean, taken_over boolean, request_hash text, status_code int,
                   response jsonb, prepared jsonb, error text)
    LANGUAGE plpgsql AS $$
    DECLARE x jsonb; n int := 0; r record;
    BEGIN
      FOR x IN SELECT value FROM jsonb_array_elements(items) LOOP
        i := n; claimed := NULL; taken_over := NULL; request_hash := NULL; status_code := NULL;
        response := NULL; prepared := NULL; error := NULL;
        BEGIN
          SELECT * INTO r FROM lock_idempotency_claim(x->>'tenant', x->>'scope', x->>'key', x->>'hash',
                                                      x->'prepared', (x->>'claimMs')::int);
          IF FOUND THEN
            claimed := r.claimed; taken_over := r.taken_over; request_hash := r.request_hash;
            status_code := r.status_code; response := r.response; prepared := r.prepared;
          END IF;
        EXCEPTION WHEN OTHERS THEN
          error := SQLSTATE || ' ' || SQLERRM;
        END;
        RETURN NEXT;
        n := n + 1;
      END LOOP;
    END $$;

    CREATE FUNCTION lock_idempotency_stores(items jsonb) RETURNS TABLE (i int, error text)
    LANGUAGE plpgsql AS $$
    DECLARE x jsonb; n int := 0;
    BEGIN
      FOR x IN SELECT value FROM jsonb_array_elements(items) LOOP
        i := n; error := NULL;
        BEGIN
          PERFORM lock_idempotency_store(x->>'tenant', x->>'scope', x->>'key', (x->>'status')::int,
                                         x->'response');
        EXCEPTION WHEN OTHERS THEN
          error := SQLSTATE || ' ' || SQLERRM;
        END;
        RETURN NEXT;
        n := n + 1;
      END LOOP;
    END $$;

    CREATE FUNCTION lock_journal_messages(items jsonb) RETURNS TABLE (i int, error text)
    LANGUAGE plpgsql AS $$
    DECLARE x jsonb; n int := 0;
    BEGIN
      FOR x IN SELECT value FROM jsonb_array_elements(items) LOOP
        i := n; error := NULL;
        BEGIN
          PERFORM set_config('app.tenant_id', x->>'tenant', true);
          INSERT INTO effect_intents (tenant_id, id, actor_type, actor_id, operation_id, intent, trace,
                                      claimed_until)
          VALUES (x->>'tenant', x->>'id', x->>'type', x->>'actor', x->'intent'->>'operationId', x->'intent',
                  x->>'trace', now() + make_interval(secs => (x->>'claimMs')::int / 1000.0))
          ON CONFLICT (id) DO NOTHING;
        EXCEPTION WHEN OTHERS THEN
          error := SQLSTATE || ' ' || SQLERRM;
        END;
        RETURN NEXT;
        n := n + 1;
      END LOOP;
    END $$;

    CREATE FUNCTION lock_read_credentials(items jsonb) RETURNS TABLE (i int, credential jsonb)
    LANGUAGE plpgsql AS $$
    DECLARE x jsonb; n int := 0;
    BEGIN
      FOR x IN SELECT value FROM jsonb_array_elements(items) LOOP
        i := n;
        SELECT to_jsonb(k) INTO credential FROM lock_read_credential(x->>'tenant', x->>'id') k;
        RETURN NEXT;
        n := n + 1;
      END LOOP;
    END $$;

    GRANT EXECUTE ON FUNCTION lock_idempotency_claims(jsonb), lock_idempotency_stores(jsonb),
      lock_journal_messages(jsonb), lock_read_credentials(jsonb) TO lock_runtime;
  `.execute(db);
}
