import { type Kysely, sql } from 'kysely';

/**
 * The hot paths in one round trip each. On this machine a round trip costs ~0.5 ms of Node CPU and a
 * syscall-heavy socket write, and a group commit used to take 10–12 of them (begin, fence check,
 * set_config per tenant, one statement per table, commit). These functions do the same work server-side,
 * as the runtime role (SECURITY INVOKER: row-level security still applies; each member sets its tenant
 * with `set_config(…, true)`, local to the one-statement transaction, so nothing leaks to the pooled
 * session).
 *
 * - lock_commit_batch(batch): a group commit. Each member keeps its own fence and version check; a member
 *   that fails one writes nothing and is returned with the reason; the others commit together.
 * - lock_load_snapshots(keys): activation reads, many actors (of any tenants) in one round trip.
 * - lock_issue_context(tenant, property, rooms): what issuing needs, the property and the rooms' locks.
 * - lock_read_credential(tenant, id): one key credential row (REST answers and waits).
 * - lock_idempotency_claim / lock_idempotency_store: an Idempotency-Key's claim and its stored answer.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION lock_commit_batch(batch jsonb) RETURNS TABLE (member int, refused text)
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
      SELECT coalesce(jsonb_object_agg(f.partition::text, f.fence), '{}'::jsonb) INTO fences
        FROM (SELECT pf.partition, pf.fence FROM partition_fences pf
               WHERE pf.partition IN (SELECT DISTINCT (e->>'partition')::int FROM jsonb_array_elements(batch) e)
               ORDER BY pf.partition FOR SHARE) f;
      FOR m IN SELECT value FROM jsonb_array_elements(batch) LOOP
        IF (fences->>(m->>'partition')) IS DISTINCT FROM (m->>'fence') THEN
          member := (m->>'i')::int; refused := 'LOCK.FENCED'; RETURN NEXT; CONTINUE;
        END IF;
        -- Plain variables, so every statement below is a primary-key lookup.
        v_tenant := m->>'tenant';
        v_type := m->>'type';
        v_id := m->>'id';
        PERFORM set_config('app.tenant_id', v_tenant, true);
        IF (m->>'expected')::bigint = 0 THEN
          INSERT INTO actor_snapshots (tenant_id, actor_type, actor_id, version, last_seq, machine_version, snapshot)
          VALUES (v_tenant, v_type, v_id, (m->>'version')::bigint, (m->>'lastSeq')::bigint,
                  (m->>'mv')::int, m->'snapshot')
          ON CONFLICT (actor_type, actor_id) DO NOTHING;
        ELSE
          UPDATE actor_snapshots
             SET version = (m->>'version')::bigint, last_seq = (m->>'lastSeq')::bigint,
                 machine_version = (m->>'mv')::int, snapshot = m->'snapshot', updated_at = now()
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
          ON CONFLICT (actor_type, actor_id, key) DO UPDATE SET due_at = excluded.due_at, event = excluded.event;
        END IF;
        IF jsonb_array_length(m->'intents') > 0 THEN
          -- The committing runtime runs them at once; the sweeper takes over only if this claim lapses.
          INSERT INTO effect_intents (tenant_id, id, actor_type, actor_id, operation_id, intent, claimed_until)
          SELECT v_tenant, x->>'id', v_type, v_id, x->>'operationId', x->'intent',
                 now() + make_interval(secs => (m->>'claimMs')::double precision / 1000)
            FROM jsonb_array_elements(m->'intents') x;
        END IF;
      END LOOP;
    END $$;

    CREATE FUNCTION lock_load_snapshots(keys jsonb)
    RETURNS TABLE (tenant_id text, actor_type text, actor_id text, version bigint, last_seq bigint, snapshot jsonb)
    LANGUAGE plpgsql AS $$
    DECLARE g record;
    BEGIN
      -- Per (tenant, type): the tenant set for row-level security, then one primary-key lookup with
      -- actor_id = ANY(ids) (a join against the jsonb elements planned as a sequential scan).
      FOR g IN SELECT k->>'tenant' AS tenant, k->>'type' AS type, array_agg(k->>'id') AS ids
                 FROM jsonb_array_elements(keys) k GROUP BY 1, 2 LOOP
        PERFORM set_config('app.tenant_id', g.tenant, true);
        RETURN QUERY SELECT s.tenant_id, s.actor_type, s.actor_id, s.version, s.last_seq, s.snapshot
          FROM actor_snapshots s WHERE s.actor_type = g.type AND s.actor_id = ANY (g.ids);
      END LOOP;
    END $$;

    CREATE FUNCTION lock_issue_context(p_tenant text, p_property text, p_rooms text[]) RETURNS jsonb
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant, true);
      RETURN jsonb_build_object(
        'property', (SELECT to_jsonb(p) FROM properties p WHERE p.id = p_property),
        'devices', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'roomId', d.room_id,
                    'vendor', d.vendor, 'vendorDeviceRef', d.vendor_device_ref, 'status', d.status))
                    FROM lock_devices d WHERE d.property_id = p_property AND d.room_id = ANY (p_rooms)), '[]'::jsonb));
    END $$;

    CREATE FUNCTION lock_read_credential(p_tenant text, p_id text) RETURNS SETOF key_credentials
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant, true);
      RETURN QUERY SELECT * FROM key_credentials WHERE id = p_id;
    END $$;

    -- Claims the key (claimed = true), or returns what is stored under it.
    CREATE FUNCTION lock_idempotency_claim(p_tenant text, p_scope text, p_key text, p_hash text)
    RETURNS TABLE (claimed boolean, request_hash text, status_code int, response jsonb)
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant, true);
      INSERT INTO idempotency_keys (tenant_id, scope, key, request_hash) VALUES (p_tenant, p_scope, p_key, p_hash)
        ON CONFLICT (tenant_id, scope, key) DO NOTHING;
      IF FOUND THEN
        RETURN QUERY SELECT true, p_hash, NULL::int, NULL::jsonb;
      ELSE
        RETURN QUERY SELECT false, k.request_hash, k.status_code, k.response FROM idempotency_keys k
          WHERE k.tenant_id = p_tenant AND k.scope = p_scope AND k.key = p_key;
      END IF;
    END $$;

    CREATE FUNCTION lock_idempotency_store(p_tenant text, p_scope text, p_key text, p_status int, p_response jsonb)
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant, true);
      UPDATE idempotency_keys SET status_code = p_status, response = p_response
        WHERE tenant_id = p_tenant AND scope = p_scope AND key = p_key;
    END $$;

    GRANT EXECUTE ON FUNCTION lock_commit_batch(jsonb), lock_load_snapshots(jsonb),
      lock_issue_context(text, text, text[]), lock_read_credential(text, text),
      lock_idempotency_claim(text, text, text, text), lock_idempotency_store(text, text, text, int, jsonb)
      TO lock_runtime;
  `.execute(db);
}
