/**
 * A lock already holding the PIN (another system set it): the credential moves to its next PIN, every
 * lock ends with that one, and the REST answer gives the guest the PIN the locks actually hold.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/ids.ts';
import { createTtlockAdapter, TTLOCK_SIM_DEFAULTS } from '../../src/io/vendors/ttlock/index.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('PIN already on a lock', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let auth: { authorization: string };
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  // PINs TTLock takes (none "too simple"): the first is the one another system already set on 7002.
  const pins = ['483917', '562048', '739261', '814375', '926503', '370458'];

  beforeAll(async () => {
    let next = 0;
    h = await startHarness({ generatePin: () => pins[next++ % pins.length] as string });
    gw = await buildTestGateway(h);
    auth = { authorization: `Bearer ${await gw.token(tenant)}` };
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('pin conflict: the credential moves to its next PIN on every lock and returns that PIN', async () => {
    // A stay ahead of now (fixed dates would have the service expire the credential at issue once passed).
    const stay = stayDates();
    // Another system already put 483917 on room 102's lock, for a month either side of the stay.
    const foreign = createTtlockAdapter({
      config: { baseUrl: h.ttlock.url, ...TTLOCK_SIM_DEFAULTS },
      clock: systemClock,
      timeoutMs: 2000,
    });
    await foreign.issueCredential({
      operationId: 'front-desk-app',
      lockRef: '7002',
      kind: 'pin',
      validFrom: new Date(stay.day(-30, 0)),
      validUntil: new Date(stay.day(31, 0)),
      pin: '483917',
      lookupFirst: false,
    });
    const inject = (
      method: 'POST' | 'PUT',
      url: string,
      payload: object,
      headers: Record<string, string> = {},
    ) => gw.app.inject({ method, url, headers: { ...auth, ...headers }, payload });
    const propertyId = (await inject('POST', '/api/v1/properties', { name: 'H', timezone: 'UTC' })).json().id;
    await inject('PUT', `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`, {
      status: 'active',
      config: {},
    });
    for (const [roomId, ref] of [
      ['101', '7001'],
      ['102', '7002'],
    ])
      await inject('POST', '/api/v1/lock-devices', {
        propertyId,
        roomId,
        vendor: 'ttlock',
        vendorDeviceRef: ref,
      });

    const r = await inject(
      'POST',
      '/api/v1/key-credentials',
      {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101', '102'],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
      },
      { 'idempotency-key': randomUUID() },
    );
    expect(r.statusCode).toBe(201);
    const c = r.json();
    expect(c.status).toBe('active');
    expect(c.pin).toBe('562048');
    const ours = h.ttlock
      .state()
      .credentials.filter((x) => x.name.startsWith('lk-') && x.validUntil === c.validUntil);
    expect(ours.map((x) => [x.lockRef, x.pin]).sort()).toEqual([
      ['7001', '562048'],
      ['7002', '562048'],
    ]);
    // The foreign passcode is untouched, and nothing of ours is left with the first PIN.
    const onLock2 = h.ttlock.state().credentials.filter((x) => x.lockRef === '7002');
    expect(onLock2.map((x) => x.pin).sort()).toEqual(['483917', '562048']);
    expect(
      h.ttlock
        .state()
        .credentials.filter((x) => x.lockRef === '7001')
        .map((x) => x.pin),
    ).toEqual(['562048']);
  });
});
