/**
 * Who may call, and what they may do. The attacks of the security read, each refused:
 * - development auth facing a network (HOST 0.0.0.0): the service does not start;
 * - a JWKS token without `exp`, with another algorithm or issuer: 401;
 * - a read-scope (front-desk) token configuring an adapter: 403, and nothing changes.
 * The audit log names the caller and, for configuration, what changed.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createJwksAuthenticator } from '../../src/gateway/auth.ts';
import { connect, withTenant, withUser } from '../../src/io/db/index.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('auth modes', () => {
  it('auth: development auth on a non-loopback HOST refuses to start, and says why', async () => {
    const keys = mkdtempSync(path.join(tmpdir(), 'lock-devkeys-'));
    try {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const { AUTH_MODE: _, ...env } = process.env;
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
          env: { ...env, HOST: '0.0.0.0', PORT: '0', DEV_KEYS_DIR: keys },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
        });
        // Had it started (the attack succeeding), it would listen for ever: stop it, and the test fails.
        const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.on('exit', (c) => {
          clearTimeout(guard);
          resolve({ code: c, stderr: err });
        });
      });
      expect(code).toBe(1);
      expect(stderr).toMatch(/AUTH_MODE=dev listens on loopback only \(HOST=0\.0\.0\.0\)/);
    } finally {
      rmSync(keys, { recursive: true, force: true });
    }
  });

  it('auth: the mode is explicit; JWKS needs its issuer and audience; production needs a mode', () => {
    const keys = mkdtempSync(path.join(tmpdir(), 'lock-devkeys-'));
    const base = { DEV_KEYS_DIR: keys };
    try {
      expect(loadConfig({ ...base }).auth.mode).toBe('dev');
      expect(loadConfig({ ...base, HOST: '::1' }).auth.mode).toBe('dev');
      expect(() => loadConfig({ ...base, HOST: '10.0.0.5' })).toThrow(/loopback only/);
      expect(() => loadConfig({ ...base, AUTH_JWKS_URL: 'https://idp.example/jwks' })).toThrow(
        /AUTH_MODE is dev/,
      );
      expect(() =>
        loadConfig({ ...base, AUTH_MODE: 'jwks', AUTH_JWKS_URL: 'https://idp.example/jwks' }),
      ).toThrow(/needs AUTH_ISSUER, AUTH_AUDIENCE/);
      expect(() =>
        loadConfig({ NODE_ENV: 'production', DATA_KEY: randomBytes(32).toString('base64') }),
      ).toThrow(/AUTH_MODE \(jwks\) is required/);
      const jwks = loadConfig({
        ...base,
        HOST: '0.0.0.0',
        AUTH_MODE: 'jwks',
        AUTH_JWKS_URL: 'https://idp.example/jwks',
        AUTH_ISSUER: 'https://idp.example/',
        AUTH_AUDIENCE: 'lock-integration',
      });
      expect(jwks.auth).toMatchObject({ mode: 'jwks', issuer: 'https://idp.example/' });
    } finally {
      rmSync(keys, { recursive: true, force: true });
    }
  });
});

describe('JWKS tokens', () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  const issuer = 'https://idp.test/';
  const audience = 'lock-integration';

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const claims = { tenant_id: 'hotel-a', scope: 'lock:read lock:issue' };
  const signed = (o: { exp?: boolean; iss?: string } = {}) => {
    const t = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('front-desk-1')
      .setIssuer(o.iss ?? issuer)
      .setAudience(audience)
      .setIssuedAt();
    if (o.exp !== false) t.setExpirationTime('5m');
    return t.sign(privateKey);
  };

  it('jwks: a signed token with issuer, audience and expiry gives its tenant and scopes', async () => {
    const auth = createJwksAuthenticator({ jwksUrl, issuer, audience });
    const p = await auth.verify(`Bearer ${await signed()}`);
    expect(p.tenantId).toBe('hotel-a');
    expect(p.subject).toBe('front-desk-1');
    expect([...p.scopes].sort()).toEqual(['lock:issue', 'lock:read']);
  });

  it('jwks: a token without exp, from another issuer, unsigned or HMAC-signed is refused', async () => {
    const auth = createJwksAuthenticator({ jwksUrl, issuer, audience });
    await expect(auth.verify(`Bearer ${await signed({ exp: false })}`)).rejects.toMatchObject({
      code: 'LOCK.UNAUTHENTICATED',
      detail: 'the token has no expiry (exp)',
    });
    await expect(auth.verify(`Bearer ${await signed({ iss: 'https://evil.test/' })}`)).rejects.toMatchObject({
      code: 'LOCK.UNAUTHENTICATED',
    });
    const unsecured = new UnsecuredJWT(claims)
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .encode();
    await expect(auth.verify(`Bearer ${unsecured}`)).rejects.toMatchObject({ code: 'LOCK.UNAUTHENTICATED' });
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(randomBytes(32));
    await expect(auth.verify(`Bearer ${hmac}`)).rejects.toMatchObject({ code: 'LOCK.UNAUTHENTICATED' });
  });

  it('jwks: an authenticator without issuer or audience cannot be built', () => {
    expect(() => createJwksAuthenticator({ jwksUrl, issuer: '', audience })).toThrow(/AUTH_ISSUER/);
    expect(() => createJwksAuthenticator({ jwksUrl, issuer, audience: '' })).toThrow(/AUTH_AUDIENCE/);
  });
});

describe('scopes', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  let admin: { authorization: string };
  let propertyId: string;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    admin = { authorization: `Bearer ${await gw.token(tenant)}` };
    const p = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: admin,
      payload: { name: 'Scope Hotel', timezone: 'UTC' },
    });
    expect(p.statusCode).toBe(201);
    propertyId = p.json().id as string;
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('scopes: a read-scope token cannot configure an adapter (403 problem+json) and nothing changes', async () => {
    const before = (
      await gw.app.inject({ method: 'GET', url: `/api/v1/properties/${propertyId}`, headers: admin })
    ).json();
    const frontDesk = { authorization: `Bearer ${await gw.token(tenant, 600, ['lock:read', 'lock:issue'])}` };
    const r = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
      headers: frontDesk,
      payload: { status: 'active', config: {} },
    });
    expect(r.statusCode).toBe(403);
    expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(r.json()).toMatchObject({ code: 'LOCK.FORBIDDEN', detail: expect.stringMatching(/lock:admin/) });
    const after = (
      await gw.app.inject({ method: 'GET', url: `/api/v1/properties/${propertyId}`, headers: frontDesk })
    ).json();
    expect(after).toEqual(before);
  });

  it('scopes: each route asks for its own scope; none implies another', async () => {
    const as = async (scopes: Parameters<typeof gw.token>[2]) => ({
      authorization: `Bearer ${await gw.token(tenant, 600, scopes)}`,
    });
    const read = await as(['lock:read']);
    const issue = await as(['lock:issue']);
    const none = await as([]);
    const get = { method: 'GET' as const, url: `/api/v1/properties/${propertyId}` };
    const create = {
      method: 'POST' as const,
      url: '/api/v1/properties',
      payload: { name: 'X', timezone: 'UTC' },
    };
    // A stay ahead of now, as a real request's (it reaches the running service).
    const stay = stayDates();
    const credential = {
      method: 'POST' as const,
      url: '/api/v1/key-credentials',
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101'],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
      },
    };
    expect((await gw.app.inject({ ...get, headers: read })).statusCode).toBe(200);
    expect((await gw.app.inject({ ...get, headers: issue })).statusCode).toBe(403);
    expect((await gw.app.inject({ ...get, headers: none })).statusCode).toBe(403);
    expect((await gw.app.inject({ ...create, headers: issue })).statusCode).toBe(403);
    expect((await gw.app.inject({ ...create, headers: read })).statusCode).toBe(403);
    const asReader = await gw.app.inject({
      ...credential,
      headers: { ...read, 'idempotency-key': randomUUID() },
    });
    expect(asReader.statusCode).toBe(403);
    // With the issue scope it passes the scope check (and fails further on: the room has no lock).
    const asIssuer = await gw.app.inject({
      ...credential,
      headers: { ...issue, 'idempotency-key': randomUUID() },
    });
    expect(asIssuer.json().code).toBe('LOCK.NO_LOCK_FOR_ROOM');
  });

  it('scopes: /openapi.json names the scope of every /api/v1 operation', async () => {
    const doc = (await gw.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { security?: Array<{ bearer: string[] }> }>>;
    };
    const operations = Object.entries(doc.paths)
      .filter(([p]) => p.startsWith('/api/v1/'))
      .flatMap(([p, ops]) =>
        Object.entries(ops).map(([m, op]) => ({ op: `${m} ${p}`, security: op.security })),
      );
    expect(operations.length).toBeGreaterThanOrEqual(13);
    for (const { op, security } of operations)
      expect(security?.[0]?.bearer[0], op).toMatch(/^lock:(admin|issue|read)$/);
  });

  it('audit: entries name who acted and, for configuration, what changed', async () => {
    const who = { authorization: `Bearer ${await gw.token(tenant)}` };
    const r = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/key-kind-policy`,
      headers: who,
      payload: { pin: { preferredOrder: ['ttlock'] } },
    });
    expect(r.statusCode).toBe(200);
    const db = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 1 });
    try {
      const rows = await withTenant(db, tenant, (tx) =>
        sql<{ entry: string }>`select entry from audit_log order by seq`.execute(tx),
      );
      const entries = rows.rows.map((x) => JSON.parse(x.entry) as Record<string, unknown>);
      const policy = entries.find((e) => e.event === 'property.setKeyKindPolicy');
      expect(policy).toMatchObject({
        by: 'user:dev-user',
        detail: { policy: { pin: { preferredOrder: ['ttlock'] } } },
      });
      expect(entries.find((e) => e.event === 'property.create')).toMatchObject({ by: 'user:dev-user' });
    } finally {
      await db.destroy();
    }
  });
});
