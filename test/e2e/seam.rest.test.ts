/**
 * Through REST, a room whose lock is on Seam: the PIN is issued as a Seam access code with the
 * credential's window (on Seam's own fake), and revoking removes it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SeamFake, startSeamFake } from '../../src/io/vendors/seam/index.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('seam over REST', () => {
  let fake: SeamFake;
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let auth: { authorization: string };
  const tenant = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    fake = await startSeamFake();
    h = await startHarness({}, { seam: { endpoint: fake.url, apiKey: fake.apiKey } });
    gw = await buildTestGateway(h);
    auth = { authorization: `Bearer ${await gw.token(tenant)}` };
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
    await fake?.close();
  });

  it('seam: issues a PIN as an access code with the window, moves the window in place, and revokes it', async () => {
    const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
      gw.app.inject({ method: 'POST', url, headers: { ...auth, ...headers }, payload: payload as object });
    const property = await post('/api/v1/properties', { name: 'Seam Hotel', timezone: 'UTC' });
    const propertyId = property.json().id as string;
    const enabled = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/seam`,
      headers: auth,
      payload: { status: 'enabled', config: {} },
    });
    expect(enabled.statusCode).toBe(200);
    const device = await post('/api/v1/lock-devices', {
      propertyId,
      roomId: '201',
      vendor: 'seam',
      vendorDeviceRef: 'august_device_1',
    });
    expect(device.statusCode).toBe(201);

    const issued = await post(
      '/api/v1/key-credentials',
      {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['201'],
        validFrom: '2026-12-01T14:00:00.000Z',
        validUntil: '2026-12-03T11:00:00.000Z',
      },
      { 'idempotency-key': randomUUID() },
    );
    expect(issued.statusCode).toBe(201);
    const c = issued.json();
    expect(c.status).toBe('active');
    expect(c.vendor).toBe('seam');
    const codes = await fake.accessCodes('august_device_1');
    const code = codes.find((x) => x.access_code_id === c.grants[0].vendorRef);
    expect(code).toMatchObject({
      starts_at: '2026-12-01T14:00:00.000Z',
      ends_at: '2026-12-03T11:00:00.000Z',
    });
    expect((code as { code?: string }).code).toBe(c.pin);

    const patched = await gw.app.inject({
      method: 'PATCH',
      url: `/api/v1/key-credentials/${c.id}`,
      headers: auth,
      payload: { validUntil: '2026-12-04T11:00:00.000Z' },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().status).toBe('active');
    const moved = (await fake.accessCodes('august_device_1')).find(
      (x) => x.access_code_id === c.grants[0].vendorRef,
    );
    expect(moved).toMatchObject({
      starts_at: '2026-12-01T14:00:00.000Z',
      ends_at: '2026-12-04T11:00:00.000Z',
    });

    const revoked = await post(`/api/v1/key-credentials/${c.id}/revoke`, { reason: 'checked_out' });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().status).toBe('revoked');
    expect((await fake.accessCodes('august_device_1')).map((x) => x.access_code_id)).not.toContain(
      c.grants[0].vendorRef,
    );
  });
});
