/**
 * Vendor secrets per tenant, tried as an attacker holding an ordinary tenant token would. Live mode, with
 * the loopback simulators and the attacker's listener allowed by the operator's egress list (egress is
 * tested on its own in egress.test.ts), so that only the secret handling stands between them:
 * - an `env:` reference (the server's DATABASE_URL) is refused, and even one stored before the fix is never
 *   resolved: the attacker's listener receives nothing;
 * - a secret is written once, never echoed, sealed with the tenant's key; another tenant naming the same
 *   secret (or copying its sealed row) gets nothing of it;
 * - rotation: the new version is current at once, the old one is destroyed after the next successful call.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, withTenant, withUser } from '../../src/io/db/index.ts';
import { TTLOCK_SIM_DEFAULTS } from '../../src/io/vendors/ttlock/index.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

const SERVER_SECRET = `postgres://lock:${randomUUID()}@db.internal/lock`;
const SINGLE_TENANT_PASSWORD = TTLOCK_SIM_DEFAULTS.password;

/** A listener the attacker names as their vendor's base URL: it records everything it is sent. */
async function startListener() {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      received.push(`${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${body}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ errcode: 10003, errmsg: 'invalid token' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    /** Whether anything it received holds the value, in clear or as TTLock's MD5 of a password. */
    saw: (value: string) =>
      received.some(
        (r) =>
          r.includes(value) ||
          r.includes(encodeURIComponent(value)) ||
          r.includes(createHash('md5').update(value).digest('hex')),
      ),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('vendor secrets', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let listener: Awaited<ReturnType<typeof startListener>>;
  const single = `single-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    listener = await startListener();
    h = await startHarness({
      secrets: { DATABASE_URL: SERVER_SECRET, SINGLE_TENANT_TTLOCK_PASSWORD: SINGLE_TENANT_PASSWORD },
      vendorPolicy: {
        mode: 'live',
        egress: { allow: new Set(['127.0.0.1']) },
        envAllow: new Map([[single, new Set(['SINGLE_TENANT_TTLOCK_PASSWORD'])]]),
      },
    });
    gw = await buildTestGateway(h);
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
    await listener?.close();
  });

  async function tenantWithProperty(tenant = `t-${randomUUID().slice(0, 8)}`) {
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const p = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: auth,
      payload: { name: 'Secret Hotel', timezone: 'UTC' },
    });
    expect(p.statusCode).toBe(201);
    const propertyId = p.json().id as string;
    return {
      tenant,
      auth,
      propertyId,
      configure: (config: Record<string, unknown>) =>
        gw.app.inject({
          method: 'PUT',
          url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
          headers: auth,
          payload: { status: 'active', config },
        }),
      putSecret: (name: string, value: string) =>
        gw.app.inject({
          method: 'PUT',
          url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock/secrets/${name}`,
          headers: auth,
          payload: { value },
        }),
      bulkImport: () =>
        gw.app.inject({
          method: 'POST',
          url: `/api/v1/lock-devices/bulk-import?propertyId=${propertyId}&vendor=ttlock`,
          headers: auth,
        }),
    };
  }

  const ttlockConfig = (baseUrl: string, refs: { clientSecret: string; password: string }) => ({
    baseUrl,
    clientId: TTLOCK_SIM_DEFAULTS.clientId,
    username: TTLOCK_SIM_DEFAULTS.username,
    ...refs,
  });

  it("secrets: a tenant's env: reference is refused (400), and the server's environment never reaches its listener", async () => {
    const attacker = await tenantWithProperty();
    const r = await attacker.configure(
      ttlockConfig(listener.url, { clientSecret: 'env:DATABASE_URL', password: 'env:DATABASE_URL' }),
    );
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({
      code: 'LOCK.VALIDATION',
      detail: expect.stringMatching(/secret:<name>/),
    });
    expect((await attacker.bulkImport()).statusCode).toBe(422);

    // A config stored before this check (sent to the property actor directly) is not resolved either.
    await h.service.mailbox.sendAndWait(
      { type: 'property', id: attacker.propertyId },
      {
        tenantId: attacker.tenant,
        event: {
          type: 'property.setVendorAdapter',
          at: new Date().toISOString(),
          vendor: 'ttlock',
          status: 'active',
          config: ttlockConfig(listener.url, {
            clientSecret: 'env:DATABASE_URL',
            password: 'env:DATABASE_URL',
          }),
        } as { type: string; at: string },
      },
      `${attacker.propertyId}:legacy-env-config`,
      (n) => n.version >= 2,
      5000,
    );
    const imported = await attacker.bulkImport();
    expect(imported.statusCode).toBe(422);
    expect(imported.json().detail).toMatch(/env:DATABASE_URL is not allowed for this tenant/);
    expect(listener.saw(SERVER_SECRET)).toBe(false);
    expect(listener.received).toEqual([]);
  });

  it("secrets: the operator's allow-list gives one tenant one variable; another tenant naming it is refused", async () => {
    const allowed = await tenantWithProperty(single);
    expect((await allowed.putSecret('clientSecret', TTLOCK_SIM_DEFAULTS.clientSecret)).statusCode).toBe(200);
    const config = ttlockConfig(h.ttlock.url, {
      clientSecret: 'secret:clientSecret',
      password: 'env:SINGLE_TENANT_TTLOCK_PASSWORD',
    });
    expect((await allowed.configure(config)).statusCode).toBe(200);
    const imported = await allowed.bulkImport();
    expect(imported.statusCode).toBe(200);
    expect(imported.json().imported).toBeGreaterThanOrEqual(10);

    const other = await tenantWithProperty();
    const refused = await other.configure(config);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().code).toBe('LOCK.VALIDATION');
  });

  it('secrets: written once and never echoed, sealed per tenant; another tenant naming or copying it gets nothing', async () => {
    const owner = await tenantWithProperty();
    const put = await owner.putSecret('password', TTLOCK_SIM_DEFAULTS.password);
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ name: 'password', version: 1, createdAt: expect.any(String) });
    expect(put.body).not.toContain(TTLOCK_SIM_DEFAULTS.password);
    await owner.putSecret('clientSecret', TTLOCK_SIM_DEFAULTS.clientSecret);
    const refs = { clientSecret: 'secret:clientSecret', password: 'secret:password' };
    expect((await owner.configure(ttlockConfig(h.ttlock.url, refs))).statusCode).toBe(200);
    expect((await owner.bulkImport()).statusCode).toBe(200);
    const view = await gw.app.inject({
      method: 'GET',
      url: `/api/v1/properties/${owner.propertyId}`,
      headers: owner.auth,
    });
    expect(view.body).not.toContain(TTLOCK_SIM_DEFAULTS.password);

    const db = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 1 });
    try {
      const rows = await withTenant(db, owner.tenant, (tx) =>
        sql<{ name: string; sealed: string }>`select name, sealed from vendor_secrets`.execute(tx),
      );
      expect(rows.rows.map((r) => r.name).sort()).toEqual(['clientSecret', 'password']);
      for (const r of rows.rows) expect(r.sealed).not.toContain(TTLOCK_SIM_DEFAULTS.password);

      // Another tenant names the same secrets, its listener as the base URL: it has none of its own.
      const thief = await tenantWithProperty();
      expect((await thief.configure(ttlockConfig(listener.url, refs))).statusCode).toBe(200);
      const denied = await thief.bulkImport();
      expect(denied.statusCode).toBe(422);
      expect(denied.json().detail).toMatch(/needs the secret/);
      // It cannot read the owner's rows, and a sealed value copied into its own rows does not open.
      const seen = await withTenant(db, thief.tenant, (tx) =>
        sql<{ n: string }>`select count(*) as n from vendor_secrets`.execute(tx),
      );
      expect(Number(seen.rows[0]?.n)).toBe(0);
      await withTenant(db, thief.tenant, async (tx) => {
        for (const r of rows.rows)
          await sql`insert into vendor_secrets (tenant_id, property_id, vendor, name, version, sealed)
                    values (${thief.tenant}, ${thief.propertyId}, 'ttlock', ${r.name}, 1, ${r.sealed})`.execute(
            tx,
          );
      });
      expect((await thief.bulkImport()).statusCode).toBeGreaterThanOrEqual(400);
      expect(listener.saw(TTLOCK_SIM_DEFAULTS.password)).toBe(false);
      expect(listener.saw(TTLOCK_SIM_DEFAULTS.clientSecret)).toBe(false);
    } finally {
      await db.destroy();
    }
  });

  it('secrets: rotation makes the new version current at once and destroys the old one after the next successful call', async () => {
    const hotel = await tenantWithProperty();
    await hotel.putSecret('clientSecret', TTLOCK_SIM_DEFAULTS.clientSecret);
    await hotel.putSecret('password', 'a-password-the-vendor-rejects');
    const refs = { clientSecret: 'secret:clientSecret', password: 'secret:password' };
    expect((await hotel.configure(ttlockConfig(h.ttlock.url, refs))).statusCode).toBe(200);
    const failed = await hotel.bulkImport();
    expect(failed.json().code).toBe('LOCK.VENDOR_AUTH');

    const v2 = await hotel.putSecret('password', TTLOCK_SIM_DEFAULTS.password);
    expect(v2.json().version).toBe(2);
    const db = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 1 });
    const versions = () =>
      withTenant(db, hotel.tenant, (tx) =>
        sql<{
          version: number;
        }>`select version from vendor_secrets where name = 'password' order by version`.execute(tx),
      ).then((r) => r.rows.map((x) => x.version));
    try {
      expect(await versions()).toEqual([1, 2]);
      expect((await hotel.bulkImport()).statusCode).toBe(200);
      await eventually(
        async () => ((await versions()).join() === '2' ? true : undefined),
        20_000,
        'the old password version destroyed',
      );
      const audit = await withTenant(db, hotel.tenant, (tx) =>
        sql<{ entry: string }>`select entry from audit_log order by seq`.execute(tx),
      );
      const sets = audit.rows.map((r) => JSON.parse(r.entry)).filter((e) => e.event === 'vendorSecret.set');
      expect(sets.map((e) => [e.detail.name, e.detail.version, e.by])).toEqual([
        ['clientSecret', 1, 'user:dev-user'],
        ['password', 1, 'user:dev-user'],
        ['password', 2, 'user:dev-user'],
      ]);
      expect(audit.rows.some((r) => r.entry.includes(TTLOCK_SIM_DEFAULTS.password))).toBe(false);
    } finally {
      await db.destroy();
    }
  });
});
