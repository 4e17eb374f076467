/**
 * TTLock callbacks end to end, from the simulator's own posts to the gateway: a guest's PIN entry counts
 * (the lock's battery) only once `lockRecord/list` confirms it, a forged record counts for nothing, and
 * the gateway's asynchronous failure notice makes the credential issue that lock's passcode again.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Db } from '../../src/io/db/index.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway, webhookEndpoint } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

describe('ttlock callbacks', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let admin: Db;
  let auth: { authorization: string };
  let propertyId: string;
  /** Lock device ids by TTLock lock id. */
  const devices = new Map<string, string>();
  const tenant = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    const base = await gw.app.listen({ port: 0, host: '127.0.0.1' });
    admin = connect(h.databaseUrl, { max: 1 });
    auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const rooms = { '101': '7001', '102': '7002' };
    const seeded = await seedProperty(h.service, tenant, rooms);
    propertyId = seeded.propertyId;
    // The property's TTLock adapter's own callback URL, with its token, as the TTLock app is told.
    h.ttlock.setCallbackUrl(`${base}${(await webhookEndpoint(gw, tenant, propertyId, 'ttlock')).url}`);
    for (const [room, lock] of Object.entries(rooms)) devices.set(lock, seeded.devices[room] ?? '');
  });
  afterAll(async () => {
    await gw?.app.close();
    await admin?.destroy();
    await h?.close();
  });

  function send(method: 'POST' | 'PUT', url: string, payload: object, headers: Record<string, string> = {}) {
    return gw.app.inject({ method, url, headers: { ...auth, ...headers }, payload });
  }
  const issue = async (room: string) => {
    const r = await send(
      'POST',
      '/api/v1/key-credentials',
      {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: [room],
        validFrom: new Date(Date.now() - 3_600_000).toISOString(),
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      },
      { 'idempotency-key': randomUUID() },
    );
    expect(r.statusCode).toBe(201);
    return r.json() as { id: string; pin: string; grants: { vendorRef: string }[] };
  };
  const deviceContext = async (lock: string) =>
    (
      await sql<{ c: { battery?: number; lastAccessAt?: string } }>`
        select snapshot->'context' as c from actor_snapshots where actor_id = ${devices.get(lock) ?? ''}`.execute(
        admin,
      )
    ).rows[0]?.c;
  const published = async (verb: string) => {
    const subject = `${h.service.topology.eventsRoot}.lock_device.${verb}.v1`;
    const info = await h.service.jsm.streams.info(h.service.topology.eventsStream, {
      subjects_filter: subject,
    });
    return info.state.subjects?.[subject] ?? 0;
  };

  it("ttlock: a guest's PIN entry, confirmed in the lock's records, reports the lock's battery", async () => {
    const c = await issue('101');
    h.ttlock.setBattery('7001', 15);
    const record = await h.ttlock.enterPasscode('7001', c.pin);
    expect(record.success).toBe(1);
    const ctx = await eventually(async () => {
      const x = await deviceContext('7001');
      return x?.battery === 15 ? x : undefined;
    });
    expect(ctx).toMatchObject({ battery: 15, lastAccessAt: new Date(record.lockDate).toISOString() });
    await eventually(async () => ((await published('battery_low')) === 1 ? true : undefined));
    // The stored callback holds no passcode.
    const stored = await sql<{ body: string }>`
      select body::text from webhook_inbox where vendor = 'ttlock' and body->>'notifyType' = '1'`.execute(
      admin,
    );
    expect(stored.rows.length).toBeGreaterThan(0);
    for (const r of stored.rows) expect(r.body).not.toContain(c.pin);
  });

  it('ttlock: a callback whose record the lock never made counts for nothing', async () => {
    const status = await h.ttlock.sendCallback({
      notifyType: '1',
      lockId: '7002',
      lockMac: 'AA:BB:CC:00:00:01',
      records: JSON.stringify([
        { lockId: 7002, recordType: 4, success: 1, lockDate: Date.now(), electricQuantity: 3 },
      ]),
    });
    expect(status).toBe(200);
    await eventually(async () => {
      const r = await sql<{ routed: boolean }>`
        select routed_at is not null as routed from webhook_inbox
         where vendor = 'ttlock' and body->>'lockId' = '7002' and body->>'notifyType' = '1'`.execute(admin);
      return r.rows[0]?.routed ? true : undefined;
    });
    expect((await deviceContext('7002'))?.battery).toBeUndefined();
  });

  it('ttlock: a failure notice about a passcode not known (yet) waits and is tried again, not dropped at once', async () => {
    const status = await h.ttlock.sendCallback({
      notifyType: '4',
      lockId: '7002',
      lockMac: 'AA:BB:CC:00:00:01',
      objectType: '2',
      objectId: '999999',
      errcode: '-3008',
    });
    expect(status).toBe(200);
    const row = await eventually(async () => {
      const r = await sql<{ routed: boolean; attempts: number; later: boolean }>`
        select routed_at is not null as routed, route_attempts as attempts, route_after > now() as later
          from webhook_inbox where vendor = 'ttlock' and body->>'objectId' = '999999'`.execute(admin);
      return r.rows[0]?.attempts === 1 ? r.rows[0] : undefined;
    });
    expect(row).toEqual({ routed: false, attempts: 1, later: true });
  });

  it('ttlock: a failure notice about a passcode the lock still holds (a forged notice) revokes nothing', async () => {
    const c = await issue('101');
    const held = c.grants[0]?.vendorRef ?? '';
    const before = h.ttlock
      .state()
      .credentials.filter((x) => x.lockRef === '7001')
      .map((x) => x.ref);
    const unconfirmed = async () =>
      (await h.service.metrics.webhooksRouted.get()).values.find(
        (v) => v.labels.vendor === 'ttlock' && v.labels.outcome === 'unconfirmed',
      )?.value ?? 0;
    const unconfirmedBefore = await unconfirmed();
    expect(before).toContain(held);
    const status = await h.ttlock.sendCallback({
      notifyType: '4',
      lockId: '7001',
      lockMac: 'AA:BB:CC:00:00:00',
      objectType: '2',
      objectId: held,
      errcode: '-3008',
    });
    expect(status).toBe(200);
    await eventually(async () => {
      const r = await sql<{ routed: boolean }>`
        select routed_at is not null as routed from webhook_inbox
         where vendor = 'ttlock' and body->>'objectId' = ${held}`.execute(admin);
      return r.rows[0]?.routed ? true : undefined;
    });
    // Routed as unconfirmed (the lock's passcode list still has it), so nothing was sent to the credential.
    expect(await unconfirmed()).toBe(unconfirmedBefore + 1);
    const view = await gw.app.inject({
      method: 'GET',
      url: `/api/v1/key-credentials/${c.id}`,
      headers: auth,
    });
    expect(view.json()).toMatchObject({ status: 'active', grants: [{ vendorRef: held, status: 'active' }] });
    expect(
      h.ttlock
        .state()
        .credentials.filter((x) => x.lockRef === '7001')
        .map((x) => x.ref),
    ).toEqual(before);
  });

  it("ttlock: a sleeping WiFi lock's asynchronous failure makes the credential issue that lock's passcode again", async () => {
    // Notice 4 exists only for asynchronous writes (addType 4), which a WiFi lock in power-saving mode takes.
    h.ttlock.configureWifi('7002', { online: true, powerSaving: true });
    const c = await issue('102');
    const lost = c.grants[0]?.vendorRef ?? '';
    expect(await h.ttlock.failPasscodeAsync(lost)).toBe(200);
    // The lock leaves power-saving mode (until then the service's writes are refused -3035 and retried).
    h.ttlock.configureWifi('7002', { online: true, powerSaving: false });
    const again = await eventually(async () => {
      const held = h.ttlock.state().credentials.filter((x) => x.lockRef === '7002');
      return held.length === 1 && held[0]?.ref !== lost ? held[0] : undefined;
    });
    // The same PIN the guest was given is back on the lock.
    expect(again.pin).toBe(c.pin);
    const view = await eventually(async () => {
      const r = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${c.id}`, headers: auth });
      const v = r.json() as { status: string; grants: { vendorRef: string; status: string }[] };
      return v.grants[0]?.vendorRef === again.ref && v.grants[0]?.status === 'active' ? v : undefined;
    });
    expect(view.status).toBe('active');
  });
});
