/** POST /lock-devices/bulk-import registers every lock the vendor lists, once. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roomIdFromLockName } from '../../src/gateway/routes/lockDevices.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('bulk import', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let auth: { authorization: string };
  const tenant = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    auth = { authorization: `Bearer ${await gw.token(tenant)}` };
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  const inject = (method: 'POST' | 'PUT' | 'GET', url: string, payload?: object) =>
    gw.app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });

  it('bulk import: registers the locks the vendor lists, skips the known ones, and imports nothing twice', async () => {
    const propertyId = (await inject('POST', '/api/v1/properties', { name: 'H', timezone: 'UTC' })).json().id;
    const notEnabled = await inject(
      'POST',
      `/api/v1/lock-devices/bulk-import?propertyId=${propertyId}&vendor=ttlock`,
    );
    expect(notEnabled.statusCode).toBe(422);
    expect(notEnabled.json().code).toBe('LOCK.VENDOR_NOT_ENABLED');

    await inject('PUT', `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`, {
      status: 'active',
      config: {},
    });
    const manual = await inject('POST', '/api/v1/lock-devices', {
      propertyId,
      roomId: '101',
      vendor: 'ttlock',
      vendorDeviceRef: '7001',
    });
    expect(manual.statusCode).toBe(201);

    const first = await inject(
      'POST',
      `/api/v1/lock-devices/bulk-import?propertyId=${propertyId}&vendor=ttlock`,
    );
    expect(first.statusCode).toBe(200);
    const lockCount = h.ttlock.state().locks.length;
    expect(first.json()).toEqual({ imported: lockCount - 1, skipped: 1 });

    const list = await inject('GET', `/api/v1/lock-devices?propertyId=${propertyId}&limit=100`);
    const devices = list.json().items as { roomId: string; vendorDeviceRef: string }[];
    expect(devices).toHaveLength(lockCount);
    // The simulator names lock 7001+i "Room 101+i": the room is the number the name ends with.
    for (const d of devices) expect(Number(d.roomId)).toBe(Number(d.vendorDeviceRef) - 7001 + 101);

    const again = await inject(
      'POST',
      `/api/v1/lock-devices/bulk-import?propertyId=${propertyId}&vendor=ttlock`,
    );
    expect(again.json()).toEqual({ imported: 0, skipped: lockCount });
    expect(
      (await inject('GET', `/api/v1/lock-devices?propertyId=${propertyId}&limit=100`)).json().items,
    ).toHaveLength(lockCount);
  });

  it('bulk import: an unknown property is 404 and a bad vendor is 400', async () => {
    const unknown = await inject('POST', `/api/v1/lock-devices/bulk-import?propertyId=nope&vendor=ttlock`);
    expect(unknown.statusCode).toBe(404);
    const bad = await inject('POST', `/api/v1/lock-devices/bulk-import?propertyId=nope&vendor=acme`);
    expect(bad.statusCode).toBe(400);
  });

  it('bulk import: room ids from lock names', () => {
    expect(roomIdFromLockName('Room 101', '7001')).toBe('101');
    expect(roomIdFromLockName('Spa Entrance', 'x1')).toBe('Spa-Entrance');
    expect(roomIdFromLockName('***', 'dev:42')).toBe('dev-42');
  });
});
