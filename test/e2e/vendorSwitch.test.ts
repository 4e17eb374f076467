/**
 * A property switches from TTLock to Salto KS room by room through REST, on real NATS and PostgreSQL with
 * both simulators. At every step every live guest credential has a live grant on the lock physically in its
 * room (checked against both simulators' state); new reservations land on the room's current vendor; at the
 * end no TTLock grant remains, the TTLock adapter is disabled and the switch is completed. Bad input is
 * refused with the reason, and an abort restores the old vendor as preferred.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reservationCredentialId } from '../../src/ids.ts';
import {
  SALTO_KS_SIM_DEFAULTS,
  type SaltoKsSimulator,
  startSaltoKsSimulator,
} from '../../src/io/vendors/saltoKs/index.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway, webhookEndpoint } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

const ROOMS = ['101', '102', '103', '104'];

describe('vendor switch', () => {
  let ks: SaltoKsSimulator;
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let auth: Record<string, string>;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    ks = await startSaltoKsSimulator({ lockCount: 7, staffUsers: 0 });
    h = await startHarness({}, { 'salto-ks': { baseUrl: ks.url, ...SALTO_KS_SIM_DEFAULTS } });
    gw = await buildTestGateway(h);
    auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
    await ks?.close();
  });

  const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    gw.app.inject({ method, url: `/api/v1${url}`, headers: auth, ...(payload ? { payload } : {}) });

  /** A property with rooms 101–104 on TTLock locks 7001–7004, and a Salto KS adapter configured, not enabled. */
  async function property() {
    const { propertyId } = await seedProperty(
      h.service,
      tenantId,
      Object.fromEntries(ROOMS.map((r, i) => [r, String(7001 + i)])),
    );
    const ks = await api('PUT', `/properties/${propertyId}/vendor-adapters/salto-ks`, {
      status: 'disabled',
      config: {},
    });
    expect(ks.statusCode, ks.body).toBe(200);
    return propertyId;
  }

  async function confirm(propertyId: string, room: string) {
    const reservationId = `res-${randomUUID().slice(0, 8)}`;
    const eventId = randomUUID();
    await h.service.js.publish(
      `${h.service.topology.platformRoot}.reservation.confirmed.v1`,
      JSON.stringify({
        eventId,
        tenantId,
        propertyId,
        reservationId,
        guestRef: `guest-${room}`,
        rooms: [room],
        checkIn: new Date(Date.now() - 3_600_000).toISOString(),
        checkOut: new Date(Date.now() + 2 * 86_400_000).toISOString(),
      }),
      { msgID: eventId },
    );
    const id = reservationCredentialId(tenantId, reservationId, 'pin');
    await eventually(async () =>
      (await h.service.readModel.credential(tenantId, id))?.status === 'active' ? true : undefined,
    );
    return { id, room };
  }

  /** Where each credential's room is physically locked now: TTLock's lock, or the KS lock it was cut to. */
  function holdsOnPhysicalLock(
    credentials: { id: string; room: string }[],
    cutTo: Map<string, string>,
    views: Map<string, { grants: { vendor: string; vendorRef: string | null; status: string }[] }>,
  ): string[] {
    const problems: string[] = [];
    for (const c of credentials) {
      const v = views.get(c.id);
      const ksLock = cutTo.get(c.room);
      const grant = v?.grants.find(
        (g) => g.vendor === (ksLock ? 'salto-ks' : 'ttlock') && g.status === 'active',
      );
      if (!grant) {
        problems.push(`${c.room}: no active grant on ${ksLock ? 'salto-ks' : 'ttlock'}`);
        continue;
      }
      const held = ksLock
        ? ks.state().credentials.some((x) => x.lockRef === ksLock && x.ref === grant.vendorRef)
        : h.ttlock.state().credentials.some((x) => x.ref === grant.vendorRef);
      if (!held) problems.push(`${c.room}: the physical lock does not hold it`);
    }
    return problems;
  }

  const viewsOf = async (ids: string[]) =>
    new Map(
      await Promise.all(
        ids.map(async (id) => [id, (await api('GET', `/key-credentials/${id}`)).json()] as const),
      ),
    );

  it('switch: room by room, every guest keeps a key on the lock in the room; at the end TTLock holds nothing', async () => {
    const propertyId = await property();
    // The old vendor's secrets: a password only TTLock can rotate, and the webhook endpoint's own.
    const ttlock = await api('PUT', `/properties/${propertyId}/vendor-adapters/ttlock`, {
      status: 'active',
      config: {
        baseUrl: h.ttlock.url,
        clientId: 'lock-test',
        clientSecret: 'secret:ttlock-password',
        username: 'hotel',
        password: 'secret:ttlock-password',
      },
    });
    expect(ttlock.statusCode, ttlock.body).toBe(200);
    const pw = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock/secrets/ttlock-password`,
      headers: auth,
      payload: { value: 'hunter2-but-longer' },
    });
    expect(pw.statusCode, pw.body).toBe(200);
    const hook = await webhookEndpoint(gw, tenantId, propertyId, 'ttlock');
    const credentials: { id: string; room: string }[] = [];
    for (const room of ROOMS) credentials.push(await confirm(propertyId, room));

    const created = await api('POST', `/properties/${propertyId}/vendor-switches`, {
      from: 'ttlock',
      to: 'salto-ks',
    });
    expect(created.statusCode, created.body).toBe(201);
    const sw = created.json() as { id: string; phase: string; rooms: { total: number } };
    expect([sw.phase, sw.rooms.total]).toEqual(['planned', 4]);
    // One switch per property at a time.
    expect(
      (await api('POST', `/properties/${propertyId}/vendor-switches`, { from: 'ttlock', to: 'salto-ks' }))
        .statusCode,
    ).toBe(409);

    expect((await api('POST', `/vendor-switches/${sw.id}/advance`)).json().phase).toBe('dualVendor');
    expect((await api('POST', `/vendor-switches/${sw.id}/advance`)).json().phase).toBe('cutover');
    const prop = (await api('GET', `/properties/${propertyId}`)).json();
    expect(prop.vendorAdapters['salto-ks'].status).toBe('active');
    expect(prop.keyKindPolicy.pin.preferredOrder.slice(0, 2)).toEqual(['salto-ks', 'ttlock']);

    // Bad input changes nothing.
    expect(
      (await api('POST', `/vendor-switches/${sw.id}/rooms/999/cutover`, { vendorDeviceRef: 'x' })).statusCode,
    ).toBe(404);
    const unlisted = await api('POST', `/vendor-switches/${sw.id}/rooms/101/cutover`, {
      vendorDeviceRef: 'no-such-lock',
    });
    expect([unlisted.statusCode, unlisted.json().code]).toEqual([422, 'LOCK.VENDOR_NOT_FOUND']);
    const early = await api('POST', `/vendor-switches/${sw.id}/advance`);
    expect([early.statusCode, early.json().detail]).toEqual([
      409,
      expect.stringContaining('rooms not cut over'),
    ]);

    const ksLocks = ks.state().locks.map((l) => l.ref);
    const cutTo = new Map<string, string>();
    for (const [i, room] of ROOMS.entries()) {
      const lock = ksLocks[i] ?? '';
      const r = await api('POST', `/vendor-switches/${sw.id}/rooms/${room}/cutover`, {
        vendorDeviceRef: lock,
      });
      expect(r.statusCode, r.body).toBe(202);
      cutTo.set(room, lock);
      const ids = credentials.map((c) => c.id);
      // Settled: every credential active again, on the lock now in its room, and nothing left on the old one.
      await eventually(async () => {
        const views = await viewsOf(ids);
        const settled = [...views.values()].every((v) => v.status === 'active');
        return settled && holdsOnPhysicalLock(credentials, cutTo, views).length === 0 ? true : undefined;
      });
      expect(h.ttlock.state().credentials.filter((c) => c.lockRef === String(7001 + i))).toEqual([]);
      // A stay booked now lands on the room's current vendor.
      if (i === 0) {
        const onKs = await confirm(propertyId, room);
        const onTtlock = await confirm(propertyId, '104');
        const v = await viewsOf([onKs.id, onTtlock.id]);
        expect(v.get(onKs.id)?.grants[0]?.vendor).toBe('salto-ks');
        expect(v.get(onTtlock.id)?.grants[0]?.vendor).toBe('ttlock');
        credentials.push(onKs, onTtlock);
      }
    }
    expect(h.ttlock.state().credentials.filter((c) => Number(c.lockRef) <= 7004)).toEqual([]);

    expect((await api('POST', `/vendor-switches/${sw.id}/advance`)).json().phase).toBe('draining');
    const done = await eventually(async () => {
      const r = await api('POST', `/vendor-switches/${sw.id}/advance`);
      return r.statusCode === 200 ? (r.json() as { credentials: { moved: number } }) : undefined;
    });
    expect(done).toMatchObject({
      phase: 'completed',
      rooms: { total: 4, cutover: 4 },
      credentials: { legacyLive: 0 },
      // Decommission: TTLock's secrets destroyed here; its password is TTLock's to rotate (named for the operator).
      secrets: {
        revokedAtVendor: [],
        destroyed: ['ttlock-password', 'webhook'],
        rotateAtVendor: ['ttlock-password'],
        webhookRemoved: true,
      },
    });
    const left = await h.service.vendorSecrets
      .current({ tenantId, propertyId, vendor: 'ttlock' }, ['ttlock-password'])
      .catch((e: Error) => e.message);
    expect(left).toMatch(/needs the secret ttlock-password/);
    const late = await gw.app.inject({ method: 'POST', url: hook.url, payload: {} });
    expect(late.statusCode).toBe(404);
    expect(done.credentials.moved).toBeGreaterThanOrEqual(4);
    const after = (await api('GET', `/properties/${propertyId}`)).json();
    expect(after.vendorAdapters.ttlock.status).toBe('disabled');
  });

  it("switch: a guest's PIN the new vendor chose is announced, and read once by the credential's issuer only", async () => {
    const propertyId = await property();
    const desk = { authorization: `Bearer ${await gw.token(tenantId, undefined, undefined, 'desk-anna')}` };
    const other = { authorization: `Bearer ${await gw.token(tenantId, undefined, undefined, 'desk-ben')}` };
    const issued = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...desk, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'guest-walk-in' },
        kind: 'pin',
        rooms: ['102'],
        validFrom: new Date(Date.now() - 3_600_000).toISOString(),
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      },
    });
    expect(issued.statusCode, issued.body).toBe(201);
    const { id } = issued.json() as { id: string };
    const read = (headers: Record<string, string>, key?: string) =>
      gw.app.inject({
        method: 'POST',
        url: `/api/v1/key-credentials/${id}/pin-reads`,
        headers: { ...headers, ...(key ? { 'idempotency-key': key } : {}) },
      });
    // Nothing to read before the move: the issuing answer gave the PIN.
    const early = await read(desk);
    expect([early.statusCode, early.json().code]).toEqual([409, 'LOCK.NO_NEW_PIN']);

    const sw = (
      await api('POST', `/properties/${propertyId}/vendor-switches`, { from: 'ttlock', to: 'salto-ks' })
    ).json();
    await api('POST', `/vendor-switches/${sw.id}/advance`);
    await api('POST', `/vendor-switches/${sw.id}/advance`);
    const ksLock = ks.state().locks[6]?.ref ?? '';
    const cut = await api('POST', `/vendor-switches/${sw.id}/rooms/102/cutover`, { vendorDeviceRef: ksLock });
    expect(cut.statusCode, cut.body).toBe(202);
    const subject = `${h.service.topology.eventsRoot}.key_credential.updated.v1`;
    /** Every `updated` event of this credential so far, in order (the stream is this file's). */
    const updatedEvents = async () => {
      const stream = h.service.topology.eventsStream;
      const { state } = await h.service.jsm.streams.info(stream);
      const found: { data: { newPins?: unknown[] } }[] = [];
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await h.service.jsm.streams.getMessage(stream, { seq }).catch(() => null);
        const e =
          m?.subject === subject ? m.json<{ aggregateId: string; data: { newPins?: unknown[] } }>() : null;
        if (e?.aggregateId === id) found.push(e);
      }
      return found;
    };
    // Announced once, as soon as the new lock holds it; the move's end says nothing new of it.
    const announced = await eventually(async () => {
      const events = await updatedEvents();
      const pins = events.flatMap((e) => e.data.newPins ?? []);
      return events.length >= 2 && pins.length > 0 ? pins : undefined;
    });
    const door = (await api('GET', `/key-credentials/${id}`)).json().grants[0];
    expect(door.vendor).toBe('salto-ks');
    expect(announced).toEqual([{ roomId: '102', lockDeviceId: door.lockDeviceId }]);
    // The REST view never shows it; another desk user may not read it; the issuer reads the lock's PIN, once.
    expect(JSON.stringify((await api('GET', `/key-credentials/${id}`)).json())).not.toMatch(
      /"(pin|doorPins)":/,
    );
    const notMine = await read(other);
    expect([notMine.statusCode, notMine.json().code]).toEqual([403, 'LOCK.FORBIDDEN']);
    const first = await read(desk, 'read-1');
    expect(first.statusCode, first.body).toBe(201);
    const held = ks.state().credentials.find((c) => c.lockRef === ksLock && c.ref === door.vendorRef);
    expect(held?.pin).toBeTruthy();
    expect(first.json()).toEqual({
      credentialId: id,
      pins: [{ roomId: '102', lockDeviceId: door.lockDeviceId, pin: held?.pin }],
      pinEntry: expect.any(String),
    });
    // The same read asked again (its answer lost) gets the same PIN; any other read, none.
    expect((await read(desk, 'read-1')).json()).toEqual(first.json());
    const again = await read(desk);
    expect([again.statusCode, again.json().code]).toEqual([410, 'LOCK.PIN_ALREADY_READ']);
    expect((await read(desk, 'read-2')).statusCode).toBe(410);
    expect((await read(other, 'read-1')).statusCode).toBe(403);
    await api('POST', `/vendor-switches/${sw.id}/abort`, { reason: 'test over' });
  });

  it('switch: decommission cut short after the destroy (a crash) completes on the next advance with the report it recorded first', async () => {
    const propertyId = await property();
    const secret = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock/secrets/old-api-key`,
      headers: auth,
      payload: { value: 'an-old-api-key-value' },
    });
    expect(secret.statusCode, secret.body).toBe(200);
    const sw = (
      await api('POST', `/properties/${propertyId}/vendor-switches`, { from: 'ttlock', to: 'salto-ks' })
    ).json();
    await api('POST', `/vendor-switches/${sw.id}/advance`);
    await api('POST', `/vendor-switches/${sw.id}/advance`);
    for (const [i, room] of ROOMS.entries())
      await api('POST', `/vendor-switches/${sw.id}/rooms/${room}/cutover`, {
        vendorDeviceRef: ks.state().locks[i]?.ref,
      });
    expect((await api('POST', `/vendor-switches/${sw.id}/advance`)).json().phase).toBe('draining');
    // What the gateway does before it crashes: the switch enters decommissioning, records what it retires,
    // and the secrets are destroyed; the `retired` message never goes out.
    const toSwitch = (event: Record<string, unknown>) =>
      h.service.mailbox.sendAndWait(
        { type: 'vendorSwitch', id: sw.id },
        { tenantId, event: { at: new Date().toISOString(), ...event } as { type: string; at: string } },
        randomUUID(),
        () => true,
        5000,
      );
    await toSwitch({ type: 'vendorSwitch.advance', legacyLive: 0 });
    await toSwitch({
      type: 'vendorSwitch.retiring',
      revokedAtVendor: [],
      destroyed: ['old-api-key'],
      rotateAtVendor: [],
      webhookRemoved: false,
    });
    await h.service.vendorSecrets.destroyAll({ tenantId, propertyId, vendor: 'ttlock' }, 'test');
    expect((await api('GET', `/vendor-switches/${sw.id}`)).json().phase).toBe('decommissioning');
    // Neither pause nor abort any more; the next advance completes with the report recorded before.
    expect((await api('POST', `/vendor-switches/${sw.id}/abort`, { reason: 'too late' })).statusCode).toBe(
      409,
    );
    const done = (await api('POST', `/vendor-switches/${sw.id}/advance`)).json();
    expect(done).toMatchObject({
      phase: 'completed',
      secrets: { revokedAtVendor: [], destroyed: ['old-api-key'], rotateAtVendor: [], webhookRemoved: false },
    });
  });

  it("switch: a pilot's room, cut over to the still-provisional new vendor, takes new stays on its new lock", async () => {
    const propertyId = await property();
    const sw = (
      await api('POST', `/properties/${propertyId}/vendor-switches`, {
        from: 'ttlock',
        to: 'salto-ks',
        pilotRoom: '101',
      })
    ).json();
    expect((await api('POST', `/vendor-switches/${sw.id}/advance`)).json().phase).toBe('dualVendor');
    expect((await api('GET', `/properties/${propertyId}`)).json().vendorAdapters['salto-ks'].status).toBe(
      'provisional',
    );
    // Before the cutover phase, only the pilot room.
    const other = await api('POST', `/vendor-switches/${sw.id}/rooms/102/cutover`, {
      vendorDeviceRef: ks.state().locks[5]?.ref,
    });
    expect(other.statusCode).toBe(409);
    const pilot = await api('POST', `/vendor-switches/${sw.id}/rooms/101/cutover`, {
      vendorDeviceRef: ks.state().locks[4]?.ref,
    });
    expect(pilot.statusCode, pilot.body).toBe(202);
    await eventually(async () => {
      const d = await api('GET', `/lock-devices?propertyId=${propertyId}&roomId=101&status=active`);
      const items = d.json().items as { vendor: string }[];
      return items.length === 1 && items[0]?.vendor === 'salto-ks' ? true : undefined;
    });
    const stay = await confirm(propertyId, '101');
    const v = (await api('GET', `/key-credentials/${stay.id}`)).json();
    expect(v.grants.map((g: { vendor: string }) => g.vendor)).toEqual(['salto-ks']);
    await api('POST', `/vendor-switches/${sw.id}/abort`, { reason: 'pilot done' });
  });

  it('switch: a lock of the old vendor registered after the plan blocks the drain (its room would be stranded)', async () => {
    const propertyId = await property();
    const sw = (
      await api('POST', `/properties/${propertyId}/vendor-switches`, { from: 'ttlock', to: 'salto-ks' })
    ).json();
    const late = await api('POST', '/lock-devices', {
      propertyId,
      roomId: '105',
      vendor: 'ttlock',
      vendorDeviceRef: '7005',
    });
    expect(late.statusCode, late.body).toBe(201);
    await api('POST', `/vendor-switches/${sw.id}/advance`);
    await api('POST', `/vendor-switches/${sw.id}/advance`);
    for (const [i, room] of ROOMS.entries())
      expect(
        (
          await api('POST', `/vendor-switches/${sw.id}/rooms/${room}/cutover`, {
            vendorDeviceRef: ks.state().locks[i]?.ref,
          })
        ).statusCode,
      ).toBe(202);
    const blocked = await api('POST', `/vendor-switches/${sw.id}/advance`);
    expect([blocked.statusCode, blocked.json().detail]).toEqual([409, expect.stringContaining('room 105')]);
    await api('POST', `/vendor-switches/${sw.id}/abort`, { reason: 'replan' });
  });

  it('switch: an abort before completion brings the old vendor back as preferred', async () => {
    const propertyId = await property();
    const before = (await api('GET', `/properties/${propertyId}`)).json().keyKindPolicy;
    const sw = (
      await api('POST', `/properties/${propertyId}/vendor-switches`, { from: 'ttlock', to: 'salto-ks' })
    ).json();
    await api('POST', `/vendor-switches/${sw.id}/advance`);
    const aborted = await api('POST', `/vendor-switches/${sw.id}/abort`, { reason: 'hardware late' });
    expect(aborted.json().phase).toBe('aborted');
    await eventually(async () => {
      const p = (await api('GET', `/properties/${propertyId}`)).json();
      return JSON.stringify(p.keyKindPolicy) === JSON.stringify(before) ? true : undefined;
    });
    // And a new switch may be planned again.
    expect(
      (await api('POST', `/properties/${propertyId}/vendor-switches`, { from: 'ttlock', to: 'salto-ks' }))
        .statusCode,
    ).toBe(201);
  });
});
