/**
 * The audit chain cannot be rewritten unseen: the runtime role can append entries but not move or fork the
 * head; entries removed from the end (by someone able to bypass the append-only trigger) are found by the
 * verifier, which checks the chain against its head; `lock:cli audit-verify` reads as the runtime role for
 * the tenant, so row-level security shows it the tenant's rows.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verifyChain.ts';
import { connect, type Db, withTenant, withUser } from '../../src/io/db/index.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('audit chain', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let runtime: Db;
  let owner: Db;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    runtime = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 2 });
    owner = connect(h.databaseUrl, { max: 1 });
  });
  afterAll(async () => {
    await runtime?.destroy();
    await owner?.destroy();
    await gw?.app.close();
    await h?.close();
  });

  /** A tenant with a property and a few configuration changes: a chain of several entries. */
  async function tenantWithHistory() {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const p = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: auth,
      payload: { name: 'Audit Hotel', timezone: 'UTC' },
    });
    const propertyId = p.json().id as string;
    for (const order of [['ttlock'], ['seam', 'ttlock']])
      await gw.app.inject({
        method: 'PUT',
        url: `/api/v1/properties/${propertyId}/key-kind-policy`,
        headers: auth,
        payload: { pin: { preferredOrder: order } },
      });
    return tenant;
  }

  it('audit: the runtime role cannot move or fork the head', async () => {
    const tenant = await tenantWithHistory();
    const verdict = await verifyAuditChain(runtime, tenant);
    expect(verdict).toMatchObject({ ok: true, entries: 3 });
    await expect(
      withTenant(runtime, tenant, (tx) =>
        sql`update audit_heads set seq = 1, hash = '\\x00'::bytea`.execute(tx),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(
      withTenant(runtime, tenant, (tx) =>
        sql`insert into audit_heads (tenant_id, seq, hash) values (${`${tenant}-fork`}, 0, '\\x'::bytea)`.execute(
          tx,
        ),
      ),
    ).rejects.toThrow(/permission denied/);
    // Appending still works, through the trigger.
    await withTenant(runtime, tenant, (tx) =>
      sql`insert into audit_log (tenant_id, entry) values (${tenant}, '{"event":"test.append"}')`.execute(tx),
    );
    expect(await verifyAuditChain(runtime, tenant)).toMatchObject({ ok: true, entries: 4 });
  });

  /** One group-commit member: a new actor of `tenant` whose transition writes `audit` and nothing else. */
  const member = (i: number, tenant: string, audit: string[]) => ({
    i,
    tenant,
    partition: 9_999,
    fence: '1',
    type: 'auditTest',
    id: randomUUID(),
    expected: 0,
    version: 1,
    lastSeq: 1,
    epoch: 'e',
    mv: 1,
    rm: null,
    outbox: [],
    audit,
    cancelTimers: [],
    timers: [],
    intents: [],
    claimMs: 30_000,
    snapshot: {},
  });

  it("audit: a group commit appends each tenant's entries with one move of its head, in members' order", async () => {
    const [a, b] = [await tenantWithHistory(), await tenantWithHistory()];
    await runtime
      .insertInto('partition_fences')
      .values({ partition: 9_999, fence: '1', owner: 'audit-test' })
      .onConflict((oc) => oc.doNothing())
      .execute();
    const entries = (t: string, n: number) =>
      Array.from({ length: n }, (_, k) => JSON.stringify({ event: 'test.batch', actor: t, k }));
    const batch = [member(0, a, entries(a, 3)), member(1, b, entries(b, 2)), member(2, a, entries(a, 4))];
    const moves = await runtime.transaction().execute(async (tx) => {
      // The session's counts not yet reported (its earlier transactions') are in the view too: a difference.
      const updates = async () => {
        const { rows } = await sql<{ n_tup_upd: string }>`
          select n_tup_upd from pg_stat_xact_user_tables where relname = 'audit_heads'`.execute(tx);
        return Number(rows[0]?.n_tup_upd ?? 0);
      };
      const before = await updates();
      const { rows } = await sql<{ refused: string | null }>`
        select refused from lock_commit_batch(${JSON.stringify(batch)}::jsonb)`.execute(tx);
      expect(rows).toEqual([]);
      return (await updates()) - before;
    });
    // One per tenant; the row trigger moved the head once per entry (9).
    expect(moves).toBe(2);
    expect(await verifyAuditChain(runtime, a)).toMatchObject({ ok: true, entries: 3 + 7 });
    expect(await verifyAuditChain(runtime, b)).toMatchObject({ ok: true, entries: 3 + 2 });
    const { rows } = await withTenant(runtime, a, (tx) =>
      sql<{ entry: string }>`select entry from audit_log where seq > 3 order by seq`.execute(tx),
    );
    expect(rows.map((r) => JSON.parse(r.entry).k)).toEqual([0, 1, 2, 0, 1, 2, 3]);
  });

  it('audit: the runtime role cannot write a chain link of its own, nor append for another tenant', async () => {
    const [a, b] = [await tenantWithHistory(), await tenantWithHistory()];
    await expect(
      withTenant(runtime, a, (tx) =>
        sql`insert into audit_log (tenant_id, entry, seq, prev_hash, hash)
            values (${a}, '{"event":"test.forged"}', 4, '\\x00'::bytea, '\\x00'::bytea)`.execute(tx),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(
      withTenant(runtime, a, (tx) =>
        sql`select lock_audit_append(${b}, array['{"event":"test.elsewhere"}'])`.execute(tx),
      ),
    ).rejects.toThrow(/appended under tenant/);
    // Both ways of appending meet in one transaction, under one head.
    await withTenant(runtime, a, async (tx) => {
      await sql`insert into audit_log (tenant_id, entry) values (${a}, '{"event":"test.row"}')`.execute(tx);
      await sql`select lock_audit_append(${a}, array['{"event":"test.batch1"}', '{"event":"test.batch2"}'])`.execute(
        tx,
      );
      await sql`insert into audit_log (tenant_id, entry) values (${a}, '{"event":"test.row"}')`.execute(tx);
    });
    expect(await verifyAuditChain(runtime, a)).toMatchObject({ ok: true, entries: 7 });
    expect(await verifyAuditChain(runtime, b)).toMatchObject({ ok: true, entries: 3 });
  });

  it('audit: entries removed from the end are found, because the chain is checked against its head', async () => {
    const tenant = await tenantWithHistory();
    await sql`alter table audit_log disable trigger audit_append_only`.execute(owner);
    try {
      await sql`delete from audit_log where tenant_id = ${tenant} and seq = 3`.execute(owner);
    } finally {
      await sql`alter table audit_log enable trigger audit_append_only`.execute(owner);
    }
    const verdict = await verifyAuditChain(runtime, tenant);
    expect(verdict).toMatchObject({ ok: false, entries: 2, brokenAt: 3 });
    expect(verdict.ok ? '' : verdict.reason).toMatch(/ends at 2 but its head is at 3/);
  });

  it('audit: lock:cli audit-verify reads as the runtime role for the tenant and exits 1 on a broken chain', async () => {
    const tenant = await tenantWithHistory();
    const cli = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', 'src/cli/main.ts', 'audit-verify', '--tenant', tenant],
          {
            env: { ...process.env, DATABASE_URL: h.databaseUrl },
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.on('exit', (code) => resolve({ code, out }));
      });
    const sound = await cli();
    expect(sound.code).toBe(0);
    expect(JSON.parse(sound.out)).toMatchObject({ ok: true, entries: 3 });
    await sql`alter table audit_log disable trigger audit_append_only`.execute(owner);
    try {
      await sql`delete from audit_log where tenant_id = ${tenant} and seq = 3`.execute(owner);
    } finally {
      await sql`alter table audit_log enable trigger audit_append_only`.execute(owner);
    }
    const broken = await cli();
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.out)).toMatchObject({ ok: false, brokenAt: 3 });
  });
});
