import { type Kysely, sql } from 'kysely';

/**
 * PostgreSQL is the only record (nats-server 2.9 acknowledges before fsync): what JetStream carries is
 * released only by the commit that applies it.
 *
 * - `actor_snapshots.inbox_epoch`: the identity of the inbox stream `last_seq` counts in; a message is a
 *   duplicate only within the same stream, so a recreated `LOCK_ACTORS` (sequences from 1 again) is not
 *   mistaken for old news.
 * - `lock_commit_batch` members may name the effect intents (`consumedIntents`) and the timer
 *   (`consumedTimer`) whose message they apply: deleted in the same transaction, so a finished vendor call
 *   is never run again once its outcome is applied, and a timer stays until its event is.
 * - `effect_intents.outcome`: an outcome delivered but not yet applied is kept, so a sweeper sends the
 *   same answer again instead of calling the vendor again.
 * - `timers.redeliver_at`: a delivered timer waits here until its actor applies it; sent again if not.
 * - Idempotency keys: a claim lapses (`claimed_until`), so a request whose process died can be retried;
 *   the prepared PINs are kept with the claim (`prepared`, sealed), so a retry answers with the PINs the
 *   message carried; keys are pruned after a retention (`lock_prune_idempotency`).
 * - The snapshot loader returns `machine_version`, so older snapshots can be upgraded on activation; revokes
 *   the previous machine version gave up on (a grant `failed` while its credential closed: a PIN that may
 *   still open the door) get a timer that retries them at once.
 * - `lock_journal_message`: a command the gateway sends an actor (issue, change, revoke) is journaled as an
 *   effect intent before it is published, so it is sent again until the actor's commit releases it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE actor_snapshots ADD COLUMN inbox_epoch text;
    -- The service stamps rows written before the stream's identity was kept (as the owner, at start).
    CREATE POLICY owner_maintenance ON actor_snapshots FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
    ALTER TABLE effect_intents ADD COLUMN outcome jsonb;
    ALTER TABLE timers ADD COLUMN redeliver_at timestamptz;
    DROP INDEX timers_due;
    CREATE INDEX timers_next ON timers ((coalesce(redeliver_at, due_at)));
    ALTER TABLE idempotency_keys ADD COLUMN claimed_until timestamptz;
    ALTER TABLE idempotency_keys ADD COLUMN prepared jsonb;
    CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

    DROP FUNCTION lock_load_snapshots(jsonb);
    CREATE FUNCTION lock_load_snapshots(keys jsonb)
    RETURNS TABLE (tenant_id text, actor_type text, actor_id text, version bigint, last_seq bigint,
                   machine_version int, inbox_epoch text, snapshot jsonb)
    LANGUAGE plpgsql AS $$
    DECLARE g record;
    BEGIN
      FOR g IN SELECT k->>'tenant' AS tenant, k->>'type' AS type, array_agg(k->>'id') AS ids
                 FROM jsonb_array_elements(keys) k GROUP BY 1, 2 LOOP
        PERFORM set_config('app.tenant_id', g.tenant, true);
        RETURN QUERY SELECT s.tenant_id, s.actor_type, s.actor_id, s.version, s.last_seq, s.machine_version,
                            s.inbox_epoch, s.snapshot
          FROM actor_snapshots s WHERE s.actor_type = g.type AND s.actor_id = ANY (g.ids);
      END LOOP;
    END $$;
    GRANT EXECUTE ON FUNCTION lock_load_snapshots(jsonb) TO lock_runtime;

    CREATE OR REPLACE FUNCTION lock_commit_batch(batch jsonb) RETURNS TABLE (member int, refused text)
    LANGUAGE plpgsql AS $$
    DECLARE
      m jsonb;
      r jsonb;
      fences jsonb;
      n int;
      v_tenant text;
      v_type text;
      v_id text;
    BEGIN
      -- FOR SHARE: a new owner's fence update waits for this transaction, and this one sees its result after.
      SELECT coalesce(jsonb_object_agg(f.partition::text, f.fence::text), '{}'::jsonb) INTO fences
        FROM (SELECT pf.partition, pf.fence FROM partition_fences pf
               WHERE pf.partition IN (SELECT DISTINCT (e->>'partition')::int FROM jsonb_array_elements(batch) e)
               ORDER BY pf.partition FOR SHARE) f;
      FOR m IN SELECT value FROM jsonb_array_elements(batch) LOOP
        IF (fences->>(m->>'partition')) IS DISTINCT FROM (m->>'fence') THEN
          member := (m->>'i')::int; refused := 'LOCK.FENCED'; RETURN NEXT; CONTINUE;
        END IF;
        v_tenant := m->>'tenant';
        v_type := m->>'type';
        v_id := m->>'id';
        PERFORM set_config('app.tenant_id', v_tenant, true);
        IF (m->>'expected')::bigint = 0 THEN
          INSERT INTO actor_snapshots (tenant_id, actor_type, actor_id, version, last_seq, machine_version,
                                       inbox_epoch, snapshot)
          VALUES (v_tenant, v_type, v_id, (m->>'version')::bigint, (m->>'lastSeq')::bigint,
                  (m->>'mv')::int, m->>'epoch', m->'snapshot')
          ON CONFLICT (actor_type, actor_id) DO NOTHING;
        ELSE
          UPDATE actor_snapshots
             SET version = (m->>'version')::bigint, last_seq = (m->>'lastSeq')::bigint,
                 machine_version = (m->>'mv')::int, inbox_epoch = m->>'epoch', snapshot = m->'snapshot',
                 updated_at = now()
           WHERE actor_type = v_type AND actor_id = v_id AND version = (m->>'expected')::bigint;
        END IF;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 0 THEN
          member := (m->>'i')::int; refused := 'LOCK.VERSION_CONFLICT'; RETURN NEXT; CONTINUE;
        END IF;

        r := m->'rm'->'row';
        CASE m->'rm'->>'table'
          WHEN 'key_credentials' THEN
            INSERT INTO key_credentials (tenant_id, id, property_id, reservation_id, holder_kind, holder_ref, kind,
                rooms, areas, valid_from, valid_until, vendor, status, grants, failure, version, created_at, updated_at)
            VALUES (r->>'tenant_id', r->>'id', r->>'property_id', r->>'reservation_id', r->>'holder_kind',
                r->>'holder_ref', r->>'kind',
                ARRAY(SELECT jsonb_array_elements_text(r->'rooms')), ARRAY(SELECT jsonb_array_elements_text(r->'areas')),
                (r->>'valid_from')::timestamptz, (r->>'valid_until')::timestamptz, r->>'vendor', r->>'status',
                (r->>'grants')::jsonb, (r->>'failure')::jsonb, (r->>'version')::bigint,
                (r->>'created_at')::timestamptz, (r->>'updated_at')::timestamptz)
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, grants = excluded.grants,
                failure = excluded.failure, vendor = excluded.vendor, valid_from = excluded.valid_from,
                valid_until = excluded.valid_until, version = excluded.version, updated_at = excluded.updated_at;
          WHEN 'properties' THEN
            INSERT INTO properties (tenant_id, id, name, timezone, vendor_adapters, key_kind_policy, version,
                created_at, updated_at)
            VALUES (r->>'tenant_id', r->>'id', r->>'name', r->>'timezone', (r->>'vendor_adapters')::jsonb,
                (r->>'key_kind_policy')::jsonb, (r->>'version')::bigint, (r->>'created_at')::timestamptz,
                (r->>'updated_at')::timestamptz)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone,
                vendor_adapters = excluded.vendor_adapters, key_kind_policy = excluded.key_kind_policy,
                version = excluded.version, updated_at = excluded.updated_at;
          WHEN 'lock_devices' THEN
            INSERT INTO lock_devices (tenant_id, id, property_id, room_id, vendor, vendor_device_ref, areas, status,
                version, created_at, updated_at)
            VALUES (r->>'tenant_id', r->>'id', r->>'property_id', r->>'room_id', r->>'vendor',
                r->>'vendor_device_ref', ARRAY(SELECT jsonb_array_elements_text(r->'areas')), r->>'status',
                (r->>'version')::bigint, (r->>'created_at')::timestamptz, (r->>'updated_at')::timestamptz)
            ON CONFLICT (id) DO UPDATE SET status = excluded.status, areas = excluded.areas,
                version = excluded.version, updated_at = excluded.updated_at;
          ELSE NULL;
        END CASE;

        -- What this transition applied is released with it: the effect intents whose outcome (or message)
        -- it is — its own, or one addressed to it — and the timer whose event it is.
        IF jsonb_array_length(coalesce(m->'consumedIntents', '[]'::jsonb)) > 0 THEN
          DELETE FROM effect_intents
           WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(m->'consumedIntents')))
             AND ((actor_type = v_type AND actor_id = v_id)
                  OR (intent->'to'->>'type' = v_type AND intent->'to'->>'id' = v_id));
        END IF;
        IF jsonb_typeof(m->'consumedTimer') = 'object' THEN
          DELETE FROM timers
           WHERE actor_type = v_type AND actor_id = v_id AND key = m->'consumedTimer'->>'key'
             AND due_at = (m->'consumedTimer'->>'dueAt')::timestamptz;
        END IF;

        IF jsonb_array_length(m->'outbox') > 0 THEN
          INSERT INTO outbox (tenant_id, event_id, subject, payload)
          SELECT v_tenant, o.value->>'eventId', o.value->>'subject', o.value->'payload'
            FROM jsonb_array_elements(m->'outbox') WITH ORDINALITY AS o(value, ord) ORDER BY o.ord;
        END IF;
        INSERT INTO audit_log (tenant_id, entry) VALUES (v_tenant, m->>'audit');
        IF jsonb_array_length(m->'cancelTimers') > 0 THEN
          DELETE FROM timers
           WHERE actor_type = v_type AND actor_id = v_id
             AND key = ANY (ARRAY(SELECT jsonb_array_elements_text(m->'cancelTimers')));
        END IF;
        IF jsonb_array_length(m->'timers') > 0 THEN
          INSERT INTO timers (tenant_id, actor_type, actor_id, key, due_at, event)
          SELECT v_tenant, v_type, v_id, t->>'key', (t->>'dueAt')::timestamptz, t->'event'
            FROM jsonb_array_elements(m->'timers') t
          ON CONFLICT (actor_type, actor_id, key)
            DO UPDATE SET due_at = excluded.due_at, event = excluded.event, redeliver_at = NULL;
        END IF;
        IF jsonb_array_length(m->'intents') > 0 THEN
          -- The committing runtime runs them at once; the sweeper takes over only if this claim lapses.
          INSERT INTO effect_intents (tenant_id, id, actor_type, actor_id, operation_id, intent, claimed_until)
          SELECT v_tenant, x->>'id', v_type, v_id, x->>'operationId', x->'intent',
                 now() + make_interval(secs => (m->>'claimMs')::double precision / 1000)
            FROM jsonb_array_elements(m->'intents') x
          ON CONFLICT (id) DO NOTHING;
        END IF;
      END LOOP;
    END $$;

    -- Claims the key, takes over a claim whose holder stopped answering (same request only), or returns
    -- what the key holds. The prepared PINs travel with the claim, so a retry sends the same ones.
    DROP FUNCTION lock_idempotency_claim(text, text, text, text);
    CREATE FUNCTION lock_idempotency_claim(p_tenant text, p_scope text, p_key text, p_hash text,
                                           p_prepared jsonb, p_claim_ms int)
    RETURNS TABLE (claimed boolean, taken_over boolean, request_hash text, status_code int, response jsonb,
                   prepared jsonb)
    LANGUAGE plpgsql AS $$
    DECLARE v_prepared jsonb;
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant, true);
      INSERT INTO idempotency_keys (tenant_id, scope, key, request_hash, prepared, claimed_until)
      VALUES (p_tenant, p_scope, p_key, p_hash, p_prepared, now() + make_interval(secs => p_claim_ms / 1000.0))
        ON CONFLICT (tenant_id, scope, key) DO NOTHING;
      IF FOUND THEN
        RETURN QUERY SELECT true, false, p_hash, NULL::int, NULL::jsonb, p_prepared;
        RETURN;
      END IF;
      UPDATE idempotency_keys k SET claimed_until = now() + make_interval(secs => p_claim_ms / 1000.0),
             prepared = coalesce(k.prepared, p_prepared)
       WHERE k.tenant_id = p_tenant AND k.scope = p_scope AND k.key = p_key AND k.status_code IS NULL
         AND k.request_hash = p_hash AND coalesce(k.claimed_until, k.created_at) < now()
      RETURNING k.prepared INTO v_prepared;
      IF FOUND THEN
        RETURN QUERY SELECT true, true, p_hash, NULL::int, NULL::jsonb, v_prepared;
        RETURN;
      END IF;
      RETURN QUERY SELECT false, false, k.request_hash, k.status_code, k.response, k.prepared FROM idempotency_keys k
        WHERE k.tenant_id = p_tenant AND k.scope = p_scope AND k.key = p_key;
    END $$;

    -- An answer is stored once (a 202, which ages, may be replaced): a handler whose claim lapsed and was taken
    -- over cannot overwrite what the one that took it over stored.
    CREATE OR REPLACE FUNCTION lock_idempotency_store(p_tenant text, p_scope text, p_key text, p_status int,
                                                      p_response jsonb)
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant, true);
      UPDATE idempotency_keys SET status_code = p_status, response = p_response
        WHERE tenant_id = p_tenant AND scope = p_scope AND key = p_key
          AND (status_code IS NULL OR status_code = 202);
    END $$;

    -- A request that failed in a way worth retrying gives its claim up at once (its prepared PINs stay).
    CREATE FUNCTION lock_idempotency_release(p_tenant text, p_scope text, p_key text) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant, true);
      UPDATE idempotency_keys SET claimed_until = now() - interval '1 millisecond'
       WHERE tenant_id = p_tenant AND scope = p_scope AND key = p_key AND status_code IS NULL;
    END $$;

    -- Keys older than the retention, a batch at a time; answers how many went. Owned by the migrating role
    -- (SECURITY DEFINER): the dispatcher deletes through it and reads nothing; whatever it asks, nothing younger
    -- than an hour goes (a live claim, a 202 that still ages). Under FORCE ROW LEVEL SECURITY the owner needs a
    -- policy of its own to see the rows.
    CREATE POLICY owner_prune ON idempotency_keys FOR ALL TO CURRENT_USER USING (true) WITH CHECK (true);
    CREATE FUNCTION lock_prune_idempotency(p_before timestamptz, p_limit int) RETURNS int
    LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
      WITH gone AS (
        DELETE FROM idempotency_keys WHERE ctid IN (
          SELECT ctid FROM idempotency_keys
           WHERE created_at < least(p_before, now() - interval '1 hour') LIMIT p_limit)
        RETURNING 1)
      SELECT count(*)::int FROM gone
    $$;

    -- A command for an actor, journaled before it is sent: the actor's commit releases it; until then the
    -- effect sweeper sends it again. One round trip; row-level security applies (the caller's tenant).
    CREATE FUNCTION lock_journal_message(p_tenant text, p_id text, p_type text, p_actor text, p_intent jsonb,
                                         p_claim_ms int)
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant, true);
      INSERT INTO effect_intents (tenant_id, id, actor_type, actor_id, operation_id, intent, claimed_until)
      VALUES (p_tenant, p_id, p_type, p_actor, p_intent->>'operationId', p_intent,
              now() + make_interval(secs => p_claim_ms / 1000.0))
      ON CONFLICT (id) DO NOTHING;
    END $$;

    -- Revokes the previous machine version gave up on: retried once the credential is upgraded (at once).
    INSERT INTO timers (tenant_id, actor_type, actor_id, key, due_at, event)
    SELECT s.tenant_id, 'credential', s.actor_id, 'grant:' || (g->>'lockDeviceId'), now(),
           jsonb_build_object('type', 'timer.retryGrant', 'lockDeviceId', g->>'lockDeviceId')
      FROM actor_snapshots s, jsonb_array_elements(s.snapshot->'context'->'grants') g
     WHERE s.actor_type = 'credential' AND s.machine_version = 1
       AND s.snapshot->>'value' IN ('revoking', 'revoked', 'expired', 'failed')
       AND g->>'status' = 'failed'
    ON CONFLICT (actor_type, actor_id, key) DO NOTHING;
    REVOKE ALL ON FUNCTION lock_prune_idempotency(timestamptz, int) FROM PUBLIC;

    GRANT EXECUTE ON FUNCTION lock_idempotency_claim(text, text, text, text, jsonb, int),
      lock_idempotency_release(text, text, text), lock_journal_message(text, text, text, text, jsonb, int)
      TO lock_runtime;
    GRANT EXECUTE ON FUNCTION lock_prune_idempotency(timestamptz, int) TO lock_dispatcher;
  `.execute(db);
}
