import { type Kysely, sql } from 'kysely';

/**
 * The hot functions look rows up by key, whatever the tables held when a session first planned them.
 *
 * A PL/pgSQL function plans each statement once per session and keeps the plan. The runtime's queue tables
 * (effect intents, outbox, idempotency keys) are empty or nearly so when a process connects, so the plans a
 * session kept were sequential scans. As the tables filled (and their dead rows with them) every commit read
 * the whole table. Measured with `pg_stat_statements` in the REST benchmark (5,500 issues):
 * - the commit's `FOR UPDATE` of the effect intents it consumes took 0.43 ms a call, against 0.03 ms for the
 *   same rows' `DELETE` planned later;
 * - the outbox pass's delete took 0.5 ms.
 * Under a backlog, that cost grows with the backlog, just when the service must catch up.
 * - **`enable_seqscan = off` for the duration of each hot function** (a function's `SET` clause): their
 *   statements are planned as index lookups whatever the table's size was then. Where a table has no index
 *   for a statement, it is still scanned: the setting only makes a scan the last resort.
 * - **An issue context's locks are looked up room by room** (`lock_issue_context_of`, `lock_issue_contexts`).
 *   `room_id = ANY (rooms)` was a filter over every lock of the property (the `(tenant, property, room)` index
 *   used for its first two columns only): 400 rows read for each REST claim at a 400-room hotel, 0.3–0.45 ms.
 *   A lateral lookup of each distinct room is an equality on all three columns.
 *   `lock_issue_context_of` keeps its generic plan (`plan_cache_mode`): its custom plans, for a one-room array,
 *   cost less than the generic one on paper, so PostgreSQL planned it again at every call. It returns the
 *   same text as before (the claim digests it).
 */
const HOT = [
  'lock_commit_batch(jsonb)',
  'lock_issue_claims(jsonb)',
  'lock_idempotency_claims(jsonb)',
  'lock_idempotency_stores(jsonb)',
  'lock_outbox_pass(bigint[], integer)',
  'lock_load_snapshots(jsonb)',
  'lock_issue_contexts(jsonb)',
  'lock_journal_messages(jsonb)',
  'lock_read_credentials(jsonb)',
];

/**
 * What issuing needs for a property's rooms, as one expression: the property, and the rooms' locks in id order,
 * looked up room by room (`byRoom`) or as migrations 0007 and 0030 did. `lock_issue_contexts` (0007) returned its
 * locks in no stated order; they are in id order now, as `lock_issue_context_of`'s always were.
 */
const contextOf = (property: string, rooms: string, byRoom: boolean) =>
  sql.raw(`jsonb_build_object(
        'property', (SELECT to_jsonb(p) FROM properties p WHERE p.id = ${property}),
        'devices', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'roomId', d.room_id,
                    'vendor', d.vendor, 'vendorDeviceRef', d.vendor_device_ref, 'status', d.status) ORDER BY d.id)
                    FROM ${
                      byRoom
                        ? `(SELECT DISTINCT room FROM unnest(${rooms}) room) asked
                    CROSS JOIN LATERAL (SELECT * FROM lock_devices ld
                                         WHERE ld.property_id = ${property} AND ld.room_id = asked.room OFFSET 0) d`
                        : `lock_devices d WHERE d.property_id = ${property} AND d.room_id = ANY (${rooms})`
                    }), '[]'::jsonb))`);

/** Both functions that read issue contexts; the loop of `lock_issue_contexts` is migration 0007's. */
async function contexts(db: Kysely<unknown>, byRoom: boolean) {
  await sql`
    CREATE OR REPLACE FUNCTION lock_issue_context_of(p_property text, p_rooms text[]) RETURNS jsonb
    LANGUAGE plpgsql STABLE AS $$
    BEGIN
      RETURN ${contextOf('p_property', 'p_rooms', byRoom)};
    END $$;

    CREATE OR REPLACE FUNCTION lock_issue_contexts(requests jsonb) RETURNS TABLE (i int, ctx jsonb)
    LANGUAGE plpgsql AS $$
    DECLARE r record;
    BEGIN
      FOR r IN SELECT (e.ord - 1)::int AS i, e.v->>'tenant' AS tenant, e.v->>'property' AS property,
                      ARRAY(SELECT jsonb_array_elements_text(e.v->'rooms')) AS rooms
                 FROM jsonb_array_elements(requests) WITH ORDINALITY AS e(v, ord) LOOP
        PERFORM set_config('app.tenant_id', r.tenant, true);
        i := r.i;
        ctx := ${contextOf('r.property', 'r.rooms', byRoom)};
        RETURN NEXT;
      END LOOP;
    END $$;
  `.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await contexts(db, true);
  await sql`ALTER FUNCTION lock_issue_context_of(text, text[]) SET plan_cache_mode = force_generic_plan`.execute(
    db,
  );
  for (const f of HOT) await sql`ALTER FUNCTION ${sql.raw(f)} SET enable_seqscan = off`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const f of HOT) await sql`ALTER FUNCTION ${sql.raw(f)} RESET enable_seqscan`.execute(db);
  await sql`ALTER FUNCTION lock_issue_context_of(text, text[]) RESET plan_cache_mode`.execute(db);
  await contexts(db, false);
}
