/**
 * What a hotel does through REST and the platform's events, checked at the vendor (the TTLock simulator):
 * a REST credential made for a reservation follows that reservation; a window changed back to an earlier
 * one is applied; a disabled adapter still revokes what it issued; a provisional adapter issues only for a
 * credential that names it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('lifecycle through REST', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenantId = `t-${randomUUID().slice(0, 8)}`;
  let auth: Record<string, string>;

  // The service's clock, which a test moves on (an adapter setting read a while ago must not decide).
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  // A stay ahead of now (fixed dates would have the service expire each credential at issue once passed);
  // the check-outs after it extend it by one night and by two.
  const stay = stayDates();
  const oneMore = stay.nights(3);
  const twoMore = stay.nights(4);

  beforeAll(async () => {
    h = await startHarness({ clock });
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
    auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  const issue = (payload: Record<string, unknown>) =>
    gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
        ...payload,
      },
    });
  const credential = async (id: string) =>
    (await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${id}`, headers: auth })).json<{
      status: string;
      validUntil: string;
      grants: { vendorRef: string }[];
    }>();
  const heldAt = (lockRef: string) => h.ttlock.state().credentials.filter((c) => c.lockRef === lockRef);
  const publish = (name: string, body: Record<string, unknown>) => {
    const eventId = randomUUID();
    return h.service.js.publish(
      `${h.service.topology.platformRoot}.reservation.${name}.v1`,
      JSON.stringify({ eventId, tenantId, ...body }),
      { msgID: eventId },
    );
  };

  it("lifecycle: a REST credential made for a reservation takes the reservation's new dates and ends with its check-out", async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' });
    const reservationId = `res-${randomUUID().slice(0, 8)}`;
    const r = await issue({ propertyId, reservationId, rooms: ['101'] });
    expect(r.statusCode).toBe(201);
    const id = r.json<{ id: string }>().id;
    expect(heldAt('7001')).toHaveLength(1);

    await publish('dates_changed', {
      propertyId,
      reservationId,
      checkIn: stay.checkIn,
      checkOut: twoMore,
    });
    await eventually(
      async () => ((await credential(id)).validUntil === twoMore ? true : undefined),
      15_000,
      'the new check-out on the REST credential',
    );
    await eventually(async () => (heldAt('7001')[0]?.validUntil === twoMore ? true : undefined));

    await publish('checked_out', { propertyId, reservationId });
    await eventually(
      async () => ((await credential(id)).status === 'revoked' ? true : undefined),
      15_000,
      'revoked',
    );
    expect(heldAt('7001')).toEqual([]);
  });

  it('lifecycle: a window changed and changed back (B → C → B) is applied at the vendor', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '102': '7002' });
    const r = await issue({ propertyId, rooms: ['102'] });
    const id = r.json<{ id: string }>().id;
    const patch = (validUntil: string) =>
      gw.app.inject({
        method: 'PATCH',
        url: `/api/v1/key-credentials/${id}`,
        headers: auth,
        payload: { validUntil },
      });
    expect((await patch(oneMore)).statusCode).toBe(200);
    expect((await patch(twoMore)).statusCode).toBe(200);
    const back = await patch(oneMore);
    expect(back.statusCode).toBe(200);
    expect(back.json()).toMatchObject({ validUntil: oneMore });
    expect(heldAt('7002').map((c) => c.validUntil)).toEqual([oneMore]);
  });

  it('lifecycle: disabling an adapter stops new issuance at once and still revokes what it issued', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '103': '7003' });
    const r = await issue({ propertyId, rooms: ['103'] });
    const id = r.json<{ id: string }>().id;
    expect(heldAt('7003')).toHaveLength(1);
    const disabled = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
      headers: auth,
      payload: { status: 'disabled', config: {} },
    });
    expect(disabled.statusCode).toBe(200);
    const refused = await issue({ propertyId, rooms: ['103'] });
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ code: 'LOCK.VENDOR_NOT_ENABLED' });
    // The guest checks out later: long after any cached adapter setting.
    offsetMs += 60_000;

    const revoked = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/key-credentials/${id}/revoke`,
      headers: auth,
      payload: { reason: 'guest left early' },
    });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ status: 'revoked' });
    expect(heldAt('7003')).toEqual([]);
  });

  it("lifecycle: a provisional adapter's lock is used by policy only where it is the room's only lock (physical truth); named, it is used; enabled is read as active", async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '104': '7004' });
    const set = (status: string) =>
      gw.app.inject({
        method: 'PUT',
        url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
        headers: auth,
        payload: { status, config: {} },
      });
    expect((await set('provisional')).json()).toMatchObject({
      vendorAdapters: { ttlock: { status: 'provisional' } },
    });
    // The room's only lock is on the provisional adapter (a vendor switch's pilot room, cut over): it is used.
    const byPolicy = await issue({ propertyId, rooms: ['104'] });
    expect(byPolicy.statusCode).toBe(201);
    const pilot = await issue({ propertyId, rooms: ['104'], provisionalVendors: ['ttlock'] });
    expect(pilot.statusCode).toBe(201);
    expect(pilot.json()).toMatchObject({ status: 'active', vendor: 'ttlock' });

    expect((await set('enabled')).json()).toMatchObject({ vendorAdapters: { ttlock: { status: 'active' } } });
    expect((await issue({ propertyId, rooms: ['104'] })).statusCode).toBe(201);
  });
});
