/**
 * Webhook ingress per property adapter: Seam (Svix signatures with the endpoint's secret) and TTLock (the
 * endpoint's callback token). Signed here by the Svix scheme itself (HMAC-SHA256 over `id.timestamp.body`
 * with the base64 secret), not by the library the service verifies with. Routing stays inside the
 * endpoint's tenant and property; an unauthenticated flood from one address does not starve a vendor.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Db } from '../../src/io/db/index.ts';
import { buildTestGateway, webhookEndpoint } from '../support/gateway.ts';
import { registerSeamDevice } from '../support/lockDevices.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

const seamSecret = `whsec_${randomBytes(24).toString('base64')}`;

function svixHeaders(body: string, id = `msg_${randomUUID()}`, at = new Date(), secret = seamSecret) {
  const ts = String(Math.floor(at.getTime() / 1000));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` };
}

describe('webhook ingress', () => {
  let h: Harness;
  let admin: Db;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  /** The tenant whose property's endpoints the tests post to, and its Seam device. */
  let hotel: Awaited<ReturnType<typeof registerSeamDevice>>;
  let seamPath: string;
  let ttlockPath: string;
  let ttlockToken: string;

  beforeAll(async () => {
    h = await startHarness();
    admin = connect(h.databaseUrl, { max: 1 });
    // Refusals: 5 a second per address (bursts of 10), low enough that the guessing test below sees the cut
    // off however slowly it runs, high enough that addresses the other tests reuse keep theirs.
    gw = await buildTestGateway(h, {
      webhookLimits: { perSourcePerSecond: 200, perEndpointPerSecond: 10_000, refusedPerSourcePerSecond: 5 },
    });
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    const property = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: { authorization: `Bearer ${await gw.token(tenant)}` },
      payload: { name: 'Webhook Hotel', timezone: 'UTC' },
    });
    const propertyId = property.json().id as string;
    hotel = await registerSeamDevice(h, { tenantId: tenant, propertyId });
    seamPath = (await webhookEndpoint(gw, tenant, propertyId, 'seam', seamSecret)).url;
    const t = (await webhookEndpoint(gw, tenant, propertyId, 'ttlock')).url;
    ttlockToken = new URL(t, 'http://x').searchParams.get('token') ?? '';
    ttlockPath = t.split('?')[0] ?? '';
  });
  afterAll(async () => {
    await gw?.app.close();
    await admin?.destroy();
    await h?.close();
  });

  const stored = async (vendor: string) =>
    Number(
      (
        await sql<{ n: string }>`select count(*) as n from webhook_inbox where vendor = ${vendor}`.execute(
          admin,
        )
      ).rows[0]?.n,
    );
  /** lock_webhooks_refused_total by `vendor/reason`. */
  const refusals = async () => {
    const metric = await h.service.metrics.webhooksRefused.get();
    return Object.fromEntries(metric.values.map((v) => [`${v.labels.vendor}/${v.labels.reason}`, v.value]));
  };
  const seamEvent = () =>
    JSON.stringify({ event_id: randomUUID(), event_type: 'lock.unlocked', device_id: 'august_device_1' });
  let source = 0;
  /** Posts from an address of its own per test step, so the per-source bucket only counts what a test means. */
  const post = (
    url: string,
    body: string,
    headers: Record<string, string>,
    from = `192.0.2.${(source++ % 200) + 1}`,
  ) =>
    gw.app.inject({
      method: 'POST',
      url,
      payload: body,
      remoteAddress: from,
      headers: { 'content-type': 'application/json', ...headers },
    });

  it('webhooks: a signed Seam event is stored once; its replay is acknowledged and not stored again', async () => {
    const before = await stored('seam');
    const body = seamEvent();
    const headers = svixHeaders(body);
    const first = await post(seamPath, body, headers);
    expect(first.statusCode).toBe(202);
    const replay = await post(seamPath, body, headers);
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toEqual({ received: true, duplicate: true });
    expect(await stored('seam')).toBe(before + 1);
  });

  it('webhooks: a bad, missing or stale signature is 401 and stores nothing', async () => {
    const before = await stored('seam');
    const body = seamEvent();
    const good = svixHeaders(body);
    const tampered = await post(seamPath, body.replace('unlocked', 'locked'), good);
    const missing = await post(seamPath, body, {});
    const stale = await post(
      seamPath,
      body,
      svixHeaders(body, undefined, new Date(Date.now() - 10 * 60_000)),
    );
    expect([tampered.statusCode, missing.statusCode, stale.statusCode]).toEqual([401, 401, 401]);
    expect(tampered.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(await stored('seam')).toBe(before);
  });

  it('webhooks: oversized is 413, malformed is 400, an unknown vendor 404; nothing stored; each refusal counted', async () => {
    const before = await stored('seam');
    const refusedBefore = await refusals();
    const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
    expect((await post(seamPath, big, svixHeaders(big))).statusCode).toBe(413);
    const malformed = '{"event_id": ';
    expect((await post(seamPath, malformed, svixHeaders(malformed))).statusCode).toBe(400);
    expect((await post(seamPath, '{}', {})).statusCode).toBe(401);
    // Names an object has without owning them are no vendor either; an unknown endpoint id is no endpoint;
    // an endpoint of another vendor is not this vendor's.
    const id = seamPath.split('/').pop() ?? '';
    for (const vendor of ['acme', 'constructor', 'toString', '__proto__'])
      expect((await post(`/webhooks/v1/${vendor}/${id}`, '{}', {})).statusCode).toBe(404);
    expect(
      (await post(`/webhooks/v1/seam/${randomBytes(16).toString('base64url')}`, '{}', {})).statusCode,
    ).toBe(404);
    expect((await post(`/webhooks/v1/ttlock/${id}`, '{}', {})).statusCode).toBe(404);
    expect(await stored('seam')).toBe(before);
    const counted = await refusals();
    const added = (key: string) => (counted[key] ?? 0) - (refusedBefore[key] ?? 0);
    expect({
      tooLarge: added('seam/too_large'),
      malformed: added('seam/malformed'),
      unauthenticated: added('seam/unauthenticated'),
      unknown: added('unknown/unknown_vendor'),
    }).toEqual({ tooLarge: 1, malformed: 1, unauthenticated: 1, unknown: 4 });
    expect(added('seam/unknown_vendor') + added('ttlock/unknown_vendor')).toBe(2);
  });

  it('webhooks: TTLock needs its endpoint token and is answered with the body success; form bodies are accepted', async () => {
    const body = `lockId=7001&notifyType=1&records=${encodeURIComponent('[{"recordType":4}]')}&n=${randomUUID()}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await post(`${ttlockPath}?token=wrong`, body, form)).statusCode).toBe(401);
    expect((await post(ttlockPath, body, form)).statusCode).toBe(401);
    const before = await stored('ttlock');
    const first = await post(`${ttlockPath}?token=${ttlockToken}`, body, form);
    expect([first.statusCode, first.body]).toEqual([200, 'success']);
    const again = await post(`${ttlockPath}?token=${ttlockToken}`, body, form);
    expect([again.statusCode, again.body]).toEqual([200, 'success']);
    expect(await stored('ttlock')).toBe(before + 1);
  });

  it('webhooks: a TTLock record is stored without the passcode it carries; bad records are 400', async () => {
    const marker = randomUUID();
    const records = JSON.stringify([
      { recordType: 4, success: 1, keyboardPwd: '48151623', username: marker, electricQuantity: 80 },
    ]);
    const body = `lockId=7001&notifyType=1&records=${encodeURIComponent(records)}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await post(`${ttlockPath}?token=${ttlockToken}`, body, form)).statusCode).toBe(200);
    const row = await sql<{ body: string; event_id: string }>`
      select body::text, event_id from webhook_inbox where vendor = 'ttlock' and body::text like ${`%${marker}%`}`.execute(
      admin,
    );
    expect(row.rows).toHaveLength(1);
    expect(row.rows[0]?.body).not.toContain('48151623');
    expect(JSON.parse(row.rows[0]?.body ?? '{}')).toMatchObject({
      notifyType: 1,
      records: [{ recordType: 4, username: marker, electricQuantity: 80 }],
    });
    const bad = `lockId=7001&notifyType=1&records=${encodeURIComponent('{"not":"a list"}')}`;
    expect((await post(`${ttlockPath}?token=${ttlockToken}`, bad, form)).statusCode).toBe(400);
  });

  it('webhooks: a Seam device event reaches its lock device: low battery and offline are published once', async () => {
    const { deviceId, ref } = hotel;
    const send = async (event: Record<string, unknown>) => {
      const body = JSON.stringify({ event_id: randomUUID(), device_id: ref, ...event });
      expect((await post(seamPath, body, svixHeaders(body))).statusCode).toBe(202);
    };
    await send({ event_type: 'device.low_battery', battery_level: 0.12 });
    await send({ event_type: 'device.disconnected' });
    await send({ event_type: 'device.connected' });
    // An event about a device nobody registered is routed to no one.
    const stray = JSON.stringify({
      event_id: randomUUID(),
      device_id: 'nobody',
      event_type: 'device.disconnected',
    });
    await post(seamPath, stray, svixHeaders(stray));

    const ctx = await eventually(
      async () => {
        const r = await sql<{ c: { battery?: number; online?: boolean } }>`
        select snapshot->'context' as c from actor_snapshots where actor_id = ${deviceId}`.execute(admin);
        const c = r.rows[0]?.c;
        return c?.battery === 12 && c.online === true ? c : undefined;
      },
      15_000,
      'the device to take the reports',
    );
    expect(ctx).toMatchObject({ battery: 12, online: true });
    const subjects = (verb: string) => `${h.service.topology.eventsRoot}.lock_device.${verb}.v1`;
    const count = async (verb: string) =>
      (await h.service.jsm.streams.info(h.service.topology.eventsStream, { subjects_filter: subjects(verb) }))
        .state.subjects?.[subjects(verb)] ?? 0;
    await eventually(async () => ((await count('online')) === 1 ? true : undefined), 10_000, 'online event');
    expect([await count('battery_low'), await count('offline'), await count('online')]).toEqual([1, 1, 1]);
    const strayRow = await eventually(async () => {
      const r = await sql<{ routed: boolean; tenant_id: string | null }>`
        select routed_at is not null as routed, tenant_id from webhook_inbox where body->>'device_id' = 'nobody'`.execute(
        admin,
      );
      return r.rows[0]?.routed ? r.rows[0] : undefined;
    });
    // Stored as the endpoint's tenant's, and routed to no device.
    expect(strayRow.tenant_id).toBe(hotel.tenantId);
  });

  it("webhooks: a device reference two tenants registered routes only inside the endpoint's tenant and property", async () => {
    const shared = `seam_shared_${randomUUID().slice(0, 8)}`;
    const victim = await registerSeamDevice(h, { ref: shared });
    const mine = await registerSeamDevice(h, {
      tenantId: hotel.tenantId,
      propertyId: hotel.propertyId,
      ref: shared,
    });
    // Only the victim has this one: the hotel's endpoint must not reach it.
    const theirsOnly = await registerSeamDevice(h);
    const send = async (ref: string, event: Record<string, unknown>) => {
      const body = JSON.stringify({ event_id: randomUUID(), device_id: ref, ...event });
      expect((await post(seamPath, body, svixHeaders(body))).statusCode).toBe(202);
    };
    await send(shared, { event_type: 'device.low_battery', battery_level: 0.05 });
    await send(theirsOnly.ref, { event_type: 'device.low_battery', battery_level: 0.05 });
    const battery = async (deviceId: string) =>
      (
        await sql<{ b: number | null }>`
          select (snapshot->'context'->>'battery')::int as b from actor_snapshots where actor_id = ${deviceId}`.execute(
          admin,
        )
      ).rows[0]?.b ?? null;
    await eventually(
      async () => ((await battery(mine.deviceId)) === 5 ? true : undefined),
      15_000,
      'own device',
    );
    // Both webhooks are routed (the second to no device) before anything is asserted about the others.
    await eventually(async () => {
      const r = await sql<{ n: string }>`
        select count(*) as n from webhook_inbox where routed_at is null and tenant_id = ${hotel.tenantId}`.execute(
        admin,
      );
      return Number(r.rows[0]?.n) === 0 ? true : undefined;
    });
    expect(await battery(victim.deviceId)).toBeNull();
    expect(await battery(theirsOnly.deviceId)).toBeNull();
  });

  it('webhooks: an unauthenticated flood from one address is refused there and a real webhook still lands', async () => {
    const attacker = '203.0.113.66';
    const statuses = new Map<number, number>();
    for (let i = 0; i < 400; i++) {
      const r = await post(seamPath, '{}', {}, attacker);
      statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    }
    expect(statuses.get(429) ?? 0).toBeGreaterThan(0);
    const body = seamEvent();
    const real = await post(seamPath, body, svixHeaders(body), '198.51.100.7');
    expect(real.statusCode).toBe(202);
  });

  it('webhooks: a verified body the router cannot read is ignored and does not hold up the webhooks behind it', async () => {
    const form = { 'content-type': 'application/json' };
    // An endpoint's own tenant can send its endpoint anything that verifies: a lock id that is an object.
    const hostile = JSON.stringify({
      notifyType: 1,
      lockId: { toString: 1 },
      records: [{ lockDate: 1, recordType: 4 }],
      n: randomUUID(),
    });
    const lost = JSON.stringify({
      notifyType: 4,
      lockId: '7001',
      objectType: { valueOf: 1 },
      objectId: '1',
      n: randomUUID(),
    });
    for (const body of [hostile, lost])
      expect((await post(`${ttlockPath}?token=${ttlockToken}`, body, form)).statusCode).toBe(200);
    const body = JSON.stringify({
      event_id: randomUUID(),
      device_id: hotel.ref,
      event_type: 'device.low_battery',
      battery_level: 0.07,
    });
    expect((await post(seamPath, body, svixHeaders(body))).statusCode).toBe(202);
    await eventually(
      async () => {
        const r = await sql<{ n: string }>`
          select count(*) as n from webhook_inbox where routed_at is null and tenant_id = ${hotel.tenantId}`.execute(
          admin,
        );
        return Number(r.rows[0]?.n) === 0 ? true : undefined;
      },
      15_000,
      'every webhook routed',
    );
  });

  it('webhooks: a body PostgreSQL cannot store (a NUL, an unpaired surrogate) is 400, and webhooks sent beside it are stored', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const nul = `notifyType=1&lockId=%00&n=${randomUUID()}`;
    // Signed by the vendor, so it is stored: an escape JSON allows and jsonb does not.
    const surrogate = seamEvent().replace('august_device_1', 'august\\ud800');
    const bodies = Array.from({ length: 5 }, () => seamEvent());
    const [bad, badToo, ...good] = await Promise.all([
      post(`${ttlockPath}?token=${ttlockToken}`, nul, form),
      post(seamPath, surrogate, svixHeaders(surrogate)),
      ...bodies.map((b) => post(seamPath, b, svixHeaders(b))),
    ]);
    expect(bad?.statusCode).toBe(400);
    expect(badToo?.statusCode).toBe(400);
    expect(good.map((r) => r.statusCode)).toEqual([202, 202, 202, 202, 202]);
  });

  it('webhooks: an address whose requests keep being refused is cut off before any look-up; others are not', async () => {
    const guesser = '203.0.113.99';
    const statuses: number[] = [];
    for (let i = 0; i < 150; i++)
      statuses.push(
        (await post(`/webhooks/v1/seam/${randomBytes(16).toString('base64url')}`, '{}', {}, guesser))
          .statusCode,
      );
    // The burst (10) is refused with 404; then at most 5 a second get that far: the rest are cut off.
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(404));
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(100);
    const body = seamEvent();
    expect((await post(seamPath, body, svixHeaders(body), '198.51.100.8')).statusCode).toBe(202);
  });

  it('webhooks: no vendor path, body or header combination yields a 5xx', async () => {
    const header = fc.oneof(fc.string(), fc.constantFrom('v1,', 'v1,AAAA', '', '0', '-1', '99999999999999'));
    const vendor = fc.oneof(
      { arbitrary: fc.constantFrom('seam', 'ttlock'), weight: 4 },
      // Names every object has: a lookup by path must not find them.
      fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)),
      fc.string({ minLength: 1 }).map(encodeURIComponent),
    );
    await fc.assert(
      fc.asyncProperty(
        vendor,
        fc.oneof(fc.string(), fc.json(), fc.constant(seamEvent())),
        fc.record(
          { 'webhook-id': header, 'webhook-timestamp': header, 'webhook-signature': header },
          { requiredKeys: [] },
        ),
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
        async (vendor, body, headers, type) => {
          const id = (vendor === 'ttlock' ? ttlockPath : seamPath).split('/').pop() ?? '';
          const r = await post(`/webhooks/v1/${vendor}/${id}`, body, { ...headers, 'content-type': type });
          expect(r.statusCode).toBeLessThan(500);
          expect([400, 401, 404, 413]).toContain(r.statusCode);
        },
      ),
      { numRuns: 200 },
    );
  });
});
