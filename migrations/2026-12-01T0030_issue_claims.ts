import { type Kysely, sql } from 'kysely';

/**
 * `lock_issue_claims(items)`: a REST issue's one round trip before its vendor call. Each item claims its
 * Idempotency-Key as `lock_idempotency_claims` does and, when asked (`context`), reads what issuing needs (the
 * property and the rooms' locks, as `lock_issue_contexts`, with the locks in id order so that the same rows
 * give the same text) and its digest. An item that also brings its issue message (`journal`), planned by the
 * gateway from a context it read earlier, has it journaled (the `sendMessage` effect intent the sweeper sends
 * again if it is lost) in the same subtransaction, only when:
 * - the claim is fresh (a taken-over claim's request goes the retry's way),
 * - the actor it is sent to has no snapshot (its id follows from the key: a key used again after its retention
 *   would meet the credential it made; such a request goes the other way, which reads the actor), and
 * - the context the message was planned from is the context now (its digest): a property or lock changed
 *   meanwhile leaves it unjournaled, and the gateway plans again from the context returned.
 * A journaled item returns no context (the gateway has it); any other returns it. A taken-over claim whose
 * first attempt offered a journal entry (`prepared.journal`) says whether that entry is still pending: its
 * message, planned then, is still to be applied, and the retry must not plan and send another.
 * The entry's claim starts at the statement's clock, not its transaction's start: the effect runner counts it
 * from when it gets the entry.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION lock_issue_context_of(p_property text, p_rooms text[]) RETURNS jsonb
    LANGUAGE sql STABLE AS $$
      SELECT jsonb_build_object(
        'property', (SELECT to_jsonb(p) FROM properties p WHERE p.id = p_property),
        'devices', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'roomId', d.room_id,
                    'vendor', d.vendor, 'vendorDeviceRef', d.vendor_device_ref, 'status', d.status) ORDER BY d.id)
                    FROM lock_devices d WHERE d.property_id = p_property AND d.room_id = ANY (p_rooms)), '[]'::jsonb))
    $$;

    CREATE FUNCTION lock_issue_claims(items jsonb)
    RETURNS TABLE (i int, claimed boolean, taken_over boolean, request_hash text, status_code int,
                   response jsonb, prepared jsonb, journaled boolean, journal_pending boolean, ctx jsonb,
                   ctx_hash text, error text)
    LANGUAGE plpgsql AS $$
    DECLARE x jsonb; j jsonb; n int := 0; r record;
    BEGIN
      FOR x IN SELECT value FROM jsonb_array_elements(items) LOOP
        i := n; claimed := NULL; taken_over := NULL; request_hash := NULL; status_code := NULL;
        response := NULL; prepared := NULL; journaled := false; journal_pending := false; ctx := NULL;
        ctx_hash := NULL; error := NULL;
        BEGIN
          SELECT * INTO r FROM lock_idempotency_claim(x->>'tenant', x->>'scope', x->>'key', x->>'hash',
                                                      x->'prepared', (x->>'claimMs')::int);
          IF FOUND THEN
            claimed := r.claimed; taken_over := r.taken_over; request_hash := r.request_hash;
            status_code := r.status_code; response := r.response; prepared := r.prepared;
          END IF;
          IF claimed AND taken_over AND prepared ? 'journal' THEN
            PERFORM set_config('app.tenant_id', x->>'tenant', true);
            journal_pending := EXISTS (SELECT 1 FROM effect_intents e WHERE e.id = prepared->>'journal');
          END IF;
          IF claimed AND NOT journal_pending AND x ? 'context' THEN
            PERFORM set_config('app.tenant_id', x->>'tenant', true);
            ctx := lock_issue_context_of(x->'context'->>'property',
                                         ARRAY(SELECT jsonb_array_elements_text(x->'context'->'rooms')));
            ctx_hash := md5(ctx::text);
            j := x->'journal';
            IF j IS NOT NULL AND NOT taken_over AND j->>'ctxHash' = ctx_hash AND NOT EXISTS (
                 SELECT 1 FROM actor_snapshots s WHERE s.actor_type = j->>'type' AND s.actor_id = j->>'actor') THEN
              INSERT INTO effect_intents (tenant_id, id, actor_type, actor_id, operation_id, intent, trace,
                                          claimed_until)
              VALUES (x->>'tenant', j->>'id', j->>'type', j->>'actor', j->'intent'->>'operationId', j->'intent',
                      j->>'trace', clock_timestamp() + make_interval(secs => (j->>'claimMs')::int / 1000.0))
              ON CONFLICT (id) DO NOTHING;
              journaled := FOUND;
              IF journaled THEN ctx := NULL; END IF;
            END IF;
          END IF;
        EXCEPTION WHEN OTHERS THEN
          error := SQLSTATE || ' ' || SQLERRM;
        END;
        RETURN NEXT;
        n := n + 1;
      END LOOP;
    END $$;

    GRANT EXECUTE ON FUNCTION lock_issue_context_of(text, text[]), lock_issue_claims(jsonb) TO lock_runtime;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP FUNCTION lock_issue_claims(jsonb);
    DROP FUNCTION lock_issue_context_of(text, text[]);
  `.execute(db);
}
