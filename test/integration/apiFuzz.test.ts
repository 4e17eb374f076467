/**
 * Every route of /openapi.json, driven by fast-check with random paths, bodies and query strings, by
 * tokens of two tenants with random scopes (and by none or broken ones): no answer is a 5xx, no answer to
 * tenant B holds anything of tenant A's (its property, devices, credential), and no answer and no log line
 * holds a secret (A's vendor secret values, its webhook token, its guest's PIN, secrets the run itself
 * writes). Both tenants start with a property, a TTLock adapter, a lock, a credential and a webhook.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES, type Scope } from '../../src/gateway/scopes.ts';
import { createLogger } from '../../src/logger.ts';
import { seedProperty } from '../support/fixtures.ts';
import { arbitraryOf, type JsonSchema } from '../support/schemaArbitrary.ts';
import { buildTestGateway, webhookEndpoint } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

interface Operation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body: JsonSchema | null;
  query: { name: string; schema: JsonSchema }[];
}

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
        responses?: Record<string, { content?: Record<string, unknown> }>;
        parameters?: { in: string; name: string; schema?: JsonSchema }[];
      }
    >
  >;
  components?: { schemas?: Record<string, JsonSchema> };
}

interface Seeded {
  tenant: string;
  propertyId: string;
  deviceId: string;
  credentialId: string;
  pin: string;
  webhookToken: string;
}

describe('API fuzzing', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let log = '';
  const secrets = new Set<string>();
  let a: Seeded;
  let b: Seeded;
  let operations: Operation[];
  let doc: OpenApi;

  async function seed(tenant: string): Promise<Seeded> {
    const { propertyId, devices } = await seedProperty(h.service, tenant, { '101': '7001' });
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const secret = `vendor-secret-${randomBytes(12).toString('hex')}`;
    const put = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock/secrets/password`,
      headers: auth,
      payload: { value: secret },
    });
    expect(put.statusCode).toBe(200);
    const credential = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101'],
        validFrom: new Date(Date.now() - 3_600_000).toISOString(),
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      },
    });
    expect(credential.statusCode).toBe(201);
    const { url } = await webhookEndpoint(gw, tenant, propertyId, 'ttlock');
    const webhookToken = new URL(url, 'http://x').searchParams.get('token') ?? '';
    const pin = credential.json().pin as string;
    for (const s of [secret, webhookToken, pin]) secrets.add(s);
    return {
      tenant,
      propertyId,
      deviceId: devices['101'] ?? '',
      credentialId: credential.json().id as string,
      pin,
      webhookToken,
    };
  }

  beforeAll(async () => {
    h = await startHarness();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        log += chunk.toString();
        done();
      },
    });
    gw = await buildTestGateway(h, { waitBudgetMs: 300, logger: createLogger('debug', sink) });
    a = await seed(`fuzz-a-${randomUUID().slice(0, 8)}`);
    b = await seed(`fuzz-b-${randomUUID().slice(0, 8)}`);
    doc = (await gw.app.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApi;
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        // A stream never ends: an inject would wait for ever (the inspector's own test reads it).
        .filter(([, op]) => !op.responses?.['200']?.content?.['text/event-stream'])
        .map(([m, op]) => ({
          method: m.toUpperCase() as Operation['method'],
          path,
          body: op.requestBody?.content?.['application/json']?.schema ?? null,
          query: (op.parameters ?? [])
            .filter((x) => x.in === 'query')
            .map((x) => ({ name: x.name, schema: x.schema ?? {} })),
        })),
    );
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('fuzz: every route, random input, two tenants, random scopes: no 5xx, nothing of the other tenant, no secret', async () => {
    expect(operations.length).toBeGreaterThanOrEqual(15);
    const resolve = (ref: string) => doc.components?.schemas?.[ref.split('/').pop() ?? ''];
    const tenantOf = fc.constantFrom<Seeded[]>([a], [b]).map(([t]) => t as Seeded);
    /** A path parameter: mostly an id of the kind the route names, of either tenant; sometimes anything. */
    const param = (path: string, name: string, t: Seeded) => {
      const known =
        name === 'vendor'
          ? fc.constantFrom('ttlock', 'seam', 'salto-ks', 'vostio', 'acme')
          : name === 'name'
            ? fc.constantFrom('password', 'clientSecret', 'apiKey', 'webhook')
            : name === 'roomId'
              ? fc.constant('101')
              : path.startsWith('/api/v1/key-credentials')
                ? fc.constant(t.credentialId)
                : path.startsWith('/api/v1/lock-devices')
                  ? fc.constant(t.deviceId)
                  : fc.constant(t.propertyId);
      return fc.oneof(
        { arbitrary: known, weight: 7 },
        fc.uuid(),
        fc.string({ maxLength: 40 }),
        fc.constantFrom('..', '%2e%2e', '__proto__', 'constructor', '%00'),
      );
    };
    /** A body: mostly valid for the route's schema (with the tenant's ids where it names one), or junk. */
    const bodyOf = (op: Operation, t: Seeded) => {
      const junk = fc.jsonValue({ maxDepth: 3 });
      if (!op.body) return junk;
      const valid = arbitraryOf(op.body, resolve).map((v) => {
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          const o = { ...(v as Record<string, unknown>) };
          if ('propertyId' in o) o.propertyId = t.propertyId;
          if ('rooms' in o) o.rooms = ['101'];
          if ('config' in o && o.config && typeof o.config === 'object') o.config = {};
          return o;
        }
        return v;
      });
      return fc.oneof({ arbitrary: valid, weight: 3 }, junk, arbitraryOf(op.body, resolve));
    };
    const queryOf = (op: Operation, t: Seeded) =>
      fc.record(
        Object.fromEntries(
          op.query.map((q) => [
            q.name,
            q.name === 'propertyId'
              ? fc.oneof(fc.constant(t.propertyId), fc.string({ maxLength: 30 }))
              : fc.oneof(arbitraryOf(q.schema, resolve).map(String), fc.string({ maxLength: 30 })),
          ]),
        ),
        { requiredKeys: [] },
      );
    const scopes = fc.oneof(
      { arbitrary: fc.constant([...ALL_SCOPES]), weight: 3 },
      fc.subarray([...ALL_SCOPES]),
    );
    const request = fc.constantFrom(...operations).chain((op) =>
      fc
        .record({
          op: fc.constant(op),
          // Whose ids the request names (A's or B's), and who sends it.
          named: tenantOf,
          caller: fc.oneof(
            { arbitrary: fc.record({ tenant: tenantOf, scopes }), weight: 9 },
            fc.constantFrom('none', 'garbage', 'expired'),
          ),
        })
        .chain((r) =>
          fc.record({
            op: fc.constant(r.op),
            caller: fc.constant(r.caller),
            params: fc.tuple(
              ...[...r.op.path.matchAll(/\{([^}]+)\}/g)].map((m) => param(r.op.path, m[1] ?? '', r.named)),
            ),
            payload: bodyOf(r.op, r.named),
            q: queryOf(r.op, r.named),
          }),
        ),
    );
    let reachedHandler = 0;

    await fc.assert(
      fc.asyncProperty(request, async ({ op, caller, params, payload, q }) => {
        let i = 0;
        const path = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i++] ?? ''));
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        };
        let tenant: Seeded | null = null;
        if (typeof caller === 'string') {
          if (caller === 'garbage') headers.authorization = 'Bearer not.a.token';
          if (caller === 'expired') headers.authorization = `Bearer ${await gw.token(a.tenant, -60)}`;
        } else {
          tenant = caller.tenant;
          headers.authorization = `Bearer ${await gw.token(tenant.tenant, 600, caller.scopes as Scope[])}`;
        }
        // A secret the run writes is distinctive, so that finding it in an answer means it leaked.
        if (/\/secrets\//.test(path) && payload && typeof payload === 'object' && 'value' in payload)
          (payload as { value: unknown }).value = `fz-secret-${randomBytes(8).toString('hex')}`;
        const search = new URLSearchParams(q as Record<string, string>).toString();
        const r = await gw.app.inject({
          method: op.method,
          url: `${path}${search ? `?${search}` : ''}`,
          headers,
          ...(op.method === 'GET' || op.method === 'DELETE' ? {} : { payload: JSON.stringify(payload) }),
        });
        if (r.statusCode >= 500) {
          const failed = log.split('\n').filter((l) => l.includes('"level":50'));
          expect.fail(
            `${op.method} ${path} ${r.statusCode}: ${r.body.slice(0, 300)}\n${failed.at(-1)?.slice(0, 2500)}`,
          );
        }
        if (![400, 401, 403].includes(r.statusCode)) reachedHandler++;
        if (r.statusCode === 200 && /\/secrets\//.test(path) && payload && typeof payload === 'object')
          secrets.add(String((payload as { value?: unknown }).value));
        for (const s of secrets) expect(r.body.includes(s), `secret in ${op.method} ${path}`).toBe(false);
        if (tenant === b)
          for (const own of [a.propertyId, a.deviceId, a.credentialId])
            if (r.body.includes(own))
              // Only where the caller named A's id itself (a 404 saying what was asked for).
              expect(r.statusCode, `${op.method} ${path} answered B with A's ${own}`).toBeGreaterThanOrEqual(
                400,
              );
      }),
      { numRuns: 400 },
    );
    for (const s of secrets) expect(log.includes(s), 'a secret in the log').toBe(false);
    // The run is worth something only if many requests got past authentication and validation.
    expect(reachedHandler).toBeGreaterThan(100);
  });
});
