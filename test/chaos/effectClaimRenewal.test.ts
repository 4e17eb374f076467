/**
 * A vendor call slower than the effect claim: the process running it renews the claim, so the sweeper
 * of another process (here a second EffectRunner on the same database and subjects, which reports every
 * call it makes) does not run the same intent beside it. TTLock creates a second passcode on a repeated
 * add, and a rerun's look-up finds nothing while the first add is still on its way: two runs at once can
 * leave two passcodes. Without the renewal this test fails: the other runner issues the grant too.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EffectRunner } from '../../src/actors/effectRunner.ts';
import { systemClock } from '../../src/ids.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

const CLAIM_MS = 1000;
// A stay ahead of now: fixed dates would have the service expire the credential at issue once passed.
const stay = stayDates();

describe('effect claims', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let otherProcess: EffectRunner;
  const ranElsewhere: string[] = [];
  const tenant = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness({ effectClaimMs: CLAIM_MS, sweepEveryMs: 200, effectTimeoutMs: 10_000 });
    gw = await buildTestGateway(h);
    // Another process's runner: it sees only what the database says, and sweeps five times a second.
    otherProcess = new EffectRunner({
      dispatcherDb: h.service.dispatcherDb,
      mailbox: h.service.mailbox,
      adapters: h.service.adapters,
      secrets: h.service.secrets,
      clock: systemClock,
      timeoutMs: 10_000,
      sweepEveryMs: 200,
      claimMs: CLAIM_MS,
      onOutcome: (vendor, intent) => ranElsewhere.push(`${vendor}:${intent}`),
    });
    otherProcess.start();
  });
  afterAll(async () => {
    await otherProcess?.stop();
    await gw?.app.close();
    await h?.close();
  });

  it('a vendor call three claims long runs once: one passcode on the lock', async () => {
    const { propertyId } = await seedProperty(h.service, tenant, { '101': '7001' });
    // Each TTLock request takes 1.5 s: the token, the add, and a look-up if there is one.
    h.ttlock.setFaults({ latencyMs: 1500 });
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const r = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101'],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
      },
    });
    expect([201, 202]).toContain(r.statusCode);
    const id = r.json().id as string;
    const settled = await eventually(async () => {
      const c = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${id}`, headers: auth });
      return c.json().status === 'issuing' ? undefined : (c.json() as { status: string });
    });
    expect(settled.status).toBe('active');
    h.ttlock.setFaults({ latencyMs: 0 });
    // The other process never ran it, and the lock holds the credential once.
    expect(ranElsewhere).toEqual([]);
    const onLock = h.ttlock.state().credentials.filter((x) => x.lockRef === '7001');
    expect(onLock.map((x) => x.pin)).toHaveLength(1);
  });

  // Last in the file: it stops the harness's runtime.
  it('a graceful stop keeps renewing the claims of the calls it drains: no other process runs them meanwhile', async () => {
    const { propertyId } = await seedProperty(h.service, tenant, { '102': '7002' });
    // One TTLock request takes 3.5 claims.
    h.ttlock.setFaults({ latencyMs: 3500 });
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const answer = gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-2' },
        kind: 'pin',
        rooms: ['102'],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
      },
    });
    // The issue is committed and its call under way; then the process is asked to stop.
    await eventually(async () => {
      const rows = await sql<{ n: number }>`select count(*)::int as n from effect_intents`.execute(
        h.service.dispatcherDb,
      );
      return (rows.rows[0]?.n ?? 0) > 0 ? true : undefined;
    });
    await h.service.runtime.stop();
    await answer;
    h.ttlock.setFaults({ latencyMs: 0 });
    expect(ranElsewhere).toEqual([]);
    expect(h.ttlock.state().credentials.filter((x) => x.lockRef === '7002')).toHaveLength(1);
  });
});
