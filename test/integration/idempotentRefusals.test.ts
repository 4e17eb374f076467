/**
 * A final refusal made under an Idempotency-Key is stored and answered again as the same problem+json, on
 * every route that takes a key (the fuzzer found device registration answering 500 here: the stored
 * problem was sent as if it were a device).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('idempotent refusals', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('idempotency: a device for a property that does not exist is 404 problem+json, first time and on replay', async () => {
    const headers = {
      authorization: `Bearer ${await gw.token(`t-${randomUUID().slice(0, 8)}`)}`,
      'idempotency-key': randomUUID(),
    };
    const payload = { propertyId: randomUUID(), roomId: '101', vendor: 'ttlock', vendorDeviceRef: '7001' };
    for (const attempt of ['first', 'replay']) {
      const r = await gw.app.inject({ method: 'POST', url: '/api/v1/lock-devices', headers, payload });
      expect(r.statusCode, attempt).toBe(404);
      expect(r.headers['content-type'], attempt).toMatch(/application\/problem\+json/);
      expect(r.json(), attempt).toMatchObject({ code: 'LOCK.PROPERTY_NOT_FOUND' });
    }
  });
});
