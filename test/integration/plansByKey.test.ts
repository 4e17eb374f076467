/**
 * The hot functions look rows up by key whatever their tables held when a session first planned them
 * (migration 0032). A session keeps a PL/pgSQL statement's plan. Planned while the queue tables were empty
 * (as at a process's start), the commit, the claim and the outbox pass would read the whole table at every
 * call once a backlog filled it. An issue context read every lock of the property, not only the room's.
 * Counted with the transaction's own table statistics (`pg_stat_xact_user_tables`): what a call read, not how
 * long it took.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Db, ensureDatabase, migrateToLatest, withUser } from '../../src/io/db/index.ts';
import { dropDatabase, testSettings, uniqueId } from '../support/harness.ts';

describe('plans by key', () => {
  const { databaseUrl } = testSettings(uniqueId(), 'http://127.0.0.1:9');
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  const property = `p-${randomUUID().slice(0, 8)}`;
  let owner: Db;
  /** One session each, as the service's relay and runtime connections are: plans are kept per session. */
  let relay: Db;
  let runtime: Db;

  beforeAll(async () => {
    await ensureDatabase(databaseUrl);
    await migrateToLatest(databaseUrl);
    owner = connect(databaseUrl, { max: 1 });
    relay = connect(withUser(databaseUrl, 'lock_dispatcher'), { max: 1 });
    runtime = connect(withUser(databaseUrl, 'lock_runtime'), { max: 1 });
  });
  afterAll(async () => {
    for (const db of [relay, runtime, owner]) await db?.destroy();
    await dropDatabase(databaseUrl);
  });

  /** What `tx` has read of `table` so far in its transaction. */
  const reads = async (tx: Db, table: string) => {
    const { rows } = await sql<{ seq_scan: string; seq_tup_read: string; idx_tup_fetch: string }>`
      select seq_scan, seq_tup_read, idx_tup_fetch from pg_stat_xact_user_tables where relname = ${table}`.execute(
      tx,
    );
    const r = rows[0];
    return { seqScans: Number(r?.seq_scan ?? 0), idxFetched: Number(r?.idx_tup_fetch ?? 0) };
  };

  it('plans: an outbox pass planned on an empty table does not scan it once a backlog fills it', async () => {
    // Planned while the outbox is empty: the session's kept plans are made now.
    for (let k = 0; k < 8; k++)
      await sql`select * from lock_outbox_pass(${[-1 - k]}::bigint[], 10)`.execute(relay);
    // A backlog, and the dead rows of what earlier passes deleted.
    await sql`
      insert into outbox (tenant_id, event_id, subject, payload)
      select ${tenant}, 'e-' || g, 'lock.test.v1', '{}'::jsonb from generate_series(1, 10000) g`.execute(
      owner,
    );
    await sql`delete from outbox where id in (select id from outbox order by id limit 5000)`.execute(owner);
    const { rows: first } = await sql<{ id: string }>`select id from outbox order by id limit 500`.execute(
      owner,
    );
    const done = first.map((r) => Number(r.id));

    const seen = await relay.transaction().execute(async (tx) => {
      const { rows } = await sql<{
        id: string;
      }>`select * from lock_outbox_pass(${done}::bigint[], 10)`.execute(tx);
      return { next: rows.map((r) => Number(r.id)), ...(await reads(tx, 'outbox')) };
    });
    // It deleted what was published and read the next ten, in order, by the primary key alone.
    expect(seen.next).toEqual(Array.from({ length: 10 }, (_, k) => (done.at(-1) ?? 0) + 1 + k));
    expect(seen.seqScans).toBe(0);
    const { rows: left } = await sql<{ n: string }>`select count(*) as n from outbox`.execute(owner);
    expect(Number(left[0]?.n)).toBe(5000 - done.length);
  });

  it('plans: an issue context reads the rooms asked for, not every lock of the property', async () => {
    const at = new Date().toISOString();
    await sql`
      insert into properties (tenant_id, id, name, timezone, version, created_at, updated_at)
      values (${tenant}, ${property}, 'Hotel', 'Europe/Berlin', 1, ${at}, ${at})`.execute(owner);
    await sql`
      insert into lock_devices (tenant_id, id, property_id, room_id, vendor, vendor_device_ref, status, version,
                                created_at, updated_at)
      select ${tenant}, 'd-' || g, ${property}, (100 + g)::text, 'ttlock', (7000 + g)::text, 'active', 1, ${at}, ${at}
        from generate_series(1, 400) g`.execute(owner);

    const seen = await runtime.transaction().execute(async (tx) => {
      await sql`select set_config('app.tenant_id', ${tenant}, true)`.execute(tx);
      const ctx: { devices: { id: string; roomId: string }[] }[] = [];
      // A kept plan is made after a few calls: the later calls are the ones that count.
      for (let k = 0; k < 8; k++) {
        const { rows } = await sql<{ ctx: { devices: { id: string; roomId: string }[] } }>`
          select lock_issue_context_of(${property}, ${['102', '101', '102']}::text[]) as ctx`.execute(tx);
        if (rows[0]) ctx.push(rows[0].ctx);
      }
      return { ctx, ...(await reads(tx, 'lock_devices')) };
    });
    // Each room's lock once, in id order.
    for (const c of seen.ctx)
      expect(c.devices.map((d) => [d.id, d.roomId])).toEqual([
        ['d-1', '101'],
        ['d-2', '102'],
      ]);
    expect(seen.seqScans).toBe(0);
    // Two rooms' locks for each of the 8 calls, not the property's 400.
    expect(seen.idxFetched).toBe(16);
  });

  it('plans: a batch of issue contexts (the platform path) reads each request’s rooms only', async () => {
    const requests = Array.from({ length: 8 }, (_, k) => ({
      tenant,
      property,
      rooms: [String(101 + k), String(201 + k)],
    }));
    const seen = await runtime.transaction().execute(async (tx) => {
      const { rows } = await sql<{ i: number; ctx: { devices: { roomId: string }[] } }>`
        select i, ctx from lock_issue_contexts(${JSON.stringify(requests)}::jsonb)`.execute(tx);
      return { rows, ...(await reads(tx, 'lock_devices')) };
    });
    expect(seen.rows.map((r) => [r.i, r.ctx.devices.map((d) => d.roomId).sort()])).toEqual(
      requests.map((q, k) => [k, q.rooms]),
    );
    expect(seen.seqScans).toBe(0);
    // Its rooms' locks for each request (an index-and-heap plan may count a row twice), not the property's 400.
    expect(seen.idxFetched).toBeLessThanOrEqual(requests.length * 2 * 2);
  });

  it('plans: both issue-context functions keep one plan for their context statement', async () => {
    // Planned anew at every call, a one-room context cost more to plan than to read (migration 0034). What a
    // session plans is not visible from SQL; the functions' settings are.
    const { rows } = await sql<{ proname: string; proconfig: string[] | null }>`
      select proname, proconfig from pg_proc
       where proname in ('lock_issue_context_of', 'lock_issue_contexts') order by proname`.execute(owner);
    expect(rows.map((r) => [r.proname, r.proconfig?.includes('plan_cache_mode=force_generic_plan')])).toEqual(
      [
        ['lock_issue_context_of', true],
        ['lock_issue_contexts', true],
      ],
    );
  });
});
