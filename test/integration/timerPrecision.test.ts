/**
 * A stay's end sent with more than millisecond precision (Java's Instant, Python's isoformat: microseconds)
 * is kept by PostgreSQL to the microsecond, while the timer's delivery names it to the millisecond: the
 * at-most-once check (migration 0024) must still find the timer it releases, and the credential expires.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

describe('timers to the microsecond', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenant = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('timer: a validUntil with microseconds expires the credential at the vendor', async () => {
    const { propertyId } = await seedProperty(h.service, tenant, { '101': '7001' });
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const soon = new Date(Date.now() + 1500).toISOString().replace(/\.(\d{3})Z$/, '.$1456Z');
    const r = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101'],
        validFrom: new Date(Date.now() - 3_600_000).toISOString(),
        validUntil: soon,
      },
    });
    expect(r.statusCode, r.body).toBe(201);
    const { id, grants } = r.json() as { id: string; grants: { vendorRef: string }[] };
    const status = await eventually(async () => {
      const got = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${id}`, headers: auth });
      const s = got.json().status as string;
      return s === 'expired' ? s : undefined;
    });
    expect(status).toBe('expired');
    expect(h.ttlock.state().credentials.map((c) => c.ref)).not.toContain(grants[0]?.vendorRef);
  });
});
