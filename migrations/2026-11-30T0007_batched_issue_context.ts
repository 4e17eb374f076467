import { type Kysely, sql } from 'kysely';

/**
 * `lock_issue_contexts(requests)`: what issuing needs (the property and the rooms' locks) for many
 * requests in one round trip. Each platform confirmation and each REST issue asked `lock_issue_context`
 * on its own: one statement and one socket write per credential, the most frequent query of the issuance
 * path. Each request is read under its own tenant (RLS applies per item, as in `lock_load_snapshots`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION lock_issue_contexts(requests jsonb) RETURNS TABLE (i int, ctx jsonb)
    LANGUAGE plpgsql AS $$
    DECLARE r record;
    BEGIN
      FOR r IN SELECT (e.ord - 1)::int AS i, e.v->>'tenant' AS tenant, e.v->>'property' AS property,
                      ARRAY(SELECT jsonb_array_elements_text(e.v->'rooms')) AS rooms
                 FROM jsonb_array_elements(requests) WITH ORDINALITY AS e(v, ord) LOOP
        PERFORM set_config('app.tenant_id', r.tenant, true);
        i := r.i;
        ctx := jsonb_build_object(
          'property', (SELECT to_jsonb(p) FROM properties p WHERE p.id = r.property),
          'devices', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'roomId', d.room_id,
                      'vendor', d.vendor, 'vendorDeviceRef', d.vendor_device_ref, 'status', d.status))
                      FROM lock_devices d WHERE d.property_id = r.property AND d.room_id = ANY (r.rooms)), '[]'::jsonb));
        RETURN NEXT;
      END LOOP;
    END $$;
    GRANT EXECUTE ON FUNCTION lock_issue_contexts(jsonb) TO lock_runtime;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION lock_issue_contexts(jsonb)`.execute(db);
}
