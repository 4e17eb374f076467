/**
 * A property's vendor config is checked against the vendor's schema before it is stored: required fields,
 * no unknown ones, secrets only as secret references. An empty config means the vendor's default.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('vendor configs', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let auth: { authorization: string };
  let propertyId: string;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    auth = { authorization: `Bearer ${await gw.token(`t-${randomUUID().slice(0, 8)}`)}` };
    const p = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: auth,
      payload: { name: 'Config Hotel', timezone: 'UTC' },
    });
    propertyId = p.json().id as string;
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  const put = (vendor: string, config: Record<string, unknown>) =>
    gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/${vendor}`,
      headers: auth,
      payload: { status: 'active', config },
    });
  const ks = {
    baseUrl: 'https://clp-accept-user.my-clay.com',
    clientId: 'hotel-integration',
    clientSecret: 'secret:clientSecret',
    siteId: '5a17a000-0000-4000-8000-000000000001',
  };

  it('vendor config: a complete config with secret references is stored; an empty one means the default', async () => {
    expect((await put('salto-ks', ks)).statusCode).toBe(200);
    expect((await put('vostio', {})).statusCode).toBe(200);
  });

  it('vendor config: a missing field, an unknown one, a plaintext secret or plain-HTTP mTLS is 400 and stores nothing', async () => {
    const before = (
      await gw.app.inject({ method: 'GET', url: `/api/v1/properties/${propertyId}`, headers: auth })
    ).json();
    const cases = [
      { vendor: 'salto-ks', config: { ...ks, siteId: undefined }, says: 'siteId' },
      { vendor: 'salto-ks', config: { ...ks, tenant: 'x' }, says: '' },
      { vendor: 'salto-ks', config: { ...ks, clientSecret: 'hunter2' }, says: 'clientSecret' },
      {
        vendor: 'vostio',
        config: {
          baseUrl: 'http://vostio.example',
          siteId: 's',
          encoderId: 'e',
          ca: 'secret:ca',
          clientCert: 'secret:cert',
          clientKey: 'secret:key',
        },
        says: 'baseUrl',
      },
    ];
    for (const c of cases) {
      const r = await put(c.vendor, JSON.parse(JSON.stringify(c.config)) as Record<string, unknown>);
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.json().code).toBe('LOCK.VALIDATION');
      expect(String(r.json().detail)).toContain(c.says);
      // The plaintext secret is not echoed back.
      expect(r.body).not.toContain('hunter2');
    }
    const after = (
      await gw.app.inject({ method: 'GET', url: `/api/v1/properties/${propertyId}`, headers: auth })
    ).json();
    expect(after).toEqual(before);
  });
});
