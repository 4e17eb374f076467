/**
 * Server-side request forgery through a vendor URL, refused: in live mode a tenant's vendor URL must be
 * https to public addresses, checked when stored and again on the address each connection actually uses
 * (DNS rebinding). In simulated mode a tenant's URL is ignored. Vendor answers are size-capped.
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkVendorUrl,
  type EgressPolicy,
  egressForTenant,
  isNonPublicAddress,
  parseEgressAllow,
} from '../../src/io/vendors/egress.ts';
import { VendorError } from '../../src/io/vendors/port.ts';
import { createSeamAdapter } from '../../src/io/vendors/seam/adapter.ts';
import { createVendorHttp } from '../../src/io/vendors/http.ts';
import { TTLOCK_SIM_DEFAULTS } from '../../src/io/vendors/ttlock/index.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

/** A TCP listener that only counts the connections it gets. */
async function countingListener() {
  let connections = 0;
  const server: Server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('egress policy', () => {
  const none: EgressPolicy = { allow: new Set() };

  it('egress: loopback, private, link-local (metadata), CGNAT, IPv6 local and mapped addresses are not public', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
    ])
      expect(isNonPublicAddress(a), a).toBe(true);
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::6810:85e5', '::ffff:8.8.8.8'])
      expect(isNonPublicAddress(a), a).toBe(false);
  });

  it('egress: a vendor URL must be https to a public address unless the operator allowed the host', async () => {
    for (const url of [
      'https://127.0.0.1:8222/varz',
      'https://169.254.169.254/computeMetadata/v1/',
      'https://[::1]:4222/',
      'https://[::ffff:127.0.0.1]/',
      'https://localhost:5432/',
      'http://93.184.216.34/',
      'https://user:pass@93.184.216.34/',
      'ftp://93.184.216.34/',
    ])
      await expect(checkVendorUrl(none, url), url).rejects.toMatchObject({ code: 'LOCK.VALIDATION' });
    await expect(checkVendorUrl(none, 'https://93.184.216.34/v3')).resolves.toBeUndefined();
    const onPremises: EgressPolicy = { allow: new Set(['192.168.10.5:8100']) };
    await expect(checkVendorUrl(onPremises, 'http://192.168.10.5:8100/ship')).resolves.toBeUndefined();
    await expect(checkVendorUrl(onPremises, 'http://192.168.10.5:22/')).rejects.toMatchObject({
      code: 'LOCK.VALIDATION',
    });
  });

  it('egress: a name that resolves public when checked and to loopback at connect (DNS rebinding) is refused at connect', async () => {
    const target = await countingListener();
    let lookups = 0;
    const rebinding: EgressPolicy = {
      allow: new Set(),
      resolve: async () =>
        lookups++ === 0 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }],
    };
    const url = `https://rebind.example:${target.port}/v3/lock/list`;
    await expect(checkVendorUrl(rebinding, url)).resolves.toBeUndefined();
    const http = createVendorHttp({ timeoutMs: 2000, egress: rebinding });
    try {
      await expect(http.send('ttlock lock/list', url, { method: 'GET' })).rejects.toMatchObject({
        failure: 'PERMISSION',
      });
      expect(lookups).toBeGreaterThanOrEqual(2);
      expect(target.connections()).toBe(0);
    } finally {
      await http.close();
      await target.close();
    }
  });

  it("egress: the Seam SDK's calls go through the same guard (a rebinding name never connects)", async () => {
    const target = await countingListener();
    let lookups = 0;
    const rebinding: EgressPolicy = {
      allow: new Set(),
      resolve: async () =>
        lookups++ === 0 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }],
    };
    const endpoint = `https://rebind.example:${target.port}`;
    await expect(checkVendorUrl(rebinding, endpoint)).resolves.toBeUndefined();
    const seam = createSeamAdapter({
      config: { endpoint, apiKey: 'seam_test_key' },
      timeoutMs: 2000,
      egress: rebinding,
    });
    try {
      await expect(seam.listLocks()).rejects.toBeInstanceOf(VendorError);
      expect(lookups).toBeGreaterThanOrEqual(2);
      expect(target.connections()).toBe(0);
    } finally {
      await target.close();
    }
  });

  it("egress: an operator's allowance for one tenant's on-premises host is that tenant's alone", () => {
    const policy: EgressPolicy = { allow: parseEgressAllow('hotel-a@Salto.Hotel-A.lan:8100,shared.example') };
    expect([...egressForTenant(policy, 'hotel-a').allow].sort()).toEqual([
      'salto.hotel-a.lan:8100',
      'shared.example',
    ]);
    expect([...egressForTenant(policy, 'hotel-b').allow]).toEqual(['shared.example']);
  });

  it('egress: a vendor answer larger than the cap is refused, not buffered', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'x');
    const server = createHttpServer((_req, res) => res.end(big));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const http = createVendorHttp({ timeoutMs: 5000, egress: { allow: new Set(['127.0.0.1']) } });
    try {
      await expect(
        http.send('seam locks', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
          method: 'GET',
        }),
      ).rejects.toMatchObject({ failure: 'INVALID' });
    } finally {
      await http.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('vendor URLs through the API', () => {
  let live: Harness;
  let simulated: Harness;
  let liveGw: Awaited<ReturnType<typeof buildTestGateway>>;
  let simGw: Awaited<ReturnType<typeof buildTestGateway>>;

  beforeAll(async () => {
    live = await startHarness({
      vendorPolicy: { mode: 'live', egress: { allow: new Set() }, envAllow: new Map() },
    });
    simulated = await startHarness();
    liveGw = await buildTestGateway(live);
    simGw = await buildTestGateway(simulated);
  });
  afterAll(async () => {
    await liveGw?.app.close();
    await simGw?.app.close();
    await live?.close();
    await simulated?.close();
  });

  async function property(gw: typeof liveGw) {
    const auth = { authorization: `Bearer ${await gw.token(`t-${randomUUID().slice(0, 8)}`)}` };
    const p = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: auth,
      payload: { name: 'Egress Hotel', timezone: 'UTC' },
    });
    return { auth, propertyId: p.json().id as string };
  }

  const config = (baseUrl: string) => ({
    baseUrl,
    clientId: TTLOCK_SIM_DEFAULTS.clientId,
    clientSecret: 'secret:clientSecret',
    username: TTLOCK_SIM_DEFAULTS.username,
    password: 'secret:password',
  });

  it('egress: live mode refuses a loopback or metadata vendor URL when it is configured (400), and stores nothing', async () => {
    const { auth, propertyId } = await property(liveGw);
    for (const baseUrl of ['https://127.0.0.1:8222', 'https://169.254.169.254', 'http://93.184.216.34']) {
      const r = await liveGw.app.inject({
        method: 'PUT',
        url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
        headers: auth,
        payload: { status: 'active', config: config(baseUrl) },
      });
      expect(r.statusCode, baseUrl).toBe(400);
      expect(r.json().detail, baseUrl).toMatch(/config\.baseUrl: vendor URL refused/);
    }
    const view = await liveGw.app.inject({
      method: 'GET',
      url: `/api/v1/properties/${propertyId}`,
      headers: auth,
    });
    expect(view.json().vendorAdapters).toEqual({});
  });

  it("egress: simulated mode ignores a tenant's URL: calls go to the simulator, never to the tenant's host", async () => {
    const listener = await countingListener();
    try {
      const { auth, propertyId } = await property(simGw);
      const r = await simGw.app.inject({
        method: 'PUT',
        url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
        headers: auth,
        payload: { status: 'active', config: config(`http://127.0.0.1:${listener.port}`) },
      });
      expect(r.statusCode).toBe(200);
      const imported = await simGw.app.inject({
        method: 'POST',
        url: `/api/v1/lock-devices/bulk-import?propertyId=${propertyId}&vendor=ttlock`,
        headers: auth,
      });
      expect(imported.statusCode).toBe(200);
      expect(imported.json().imported).toBeGreaterThanOrEqual(10);
      expect(listener.connections()).toBe(0);
    } finally {
      await listener.close();
    }
  });
});
