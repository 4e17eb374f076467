/** /api/v1/properties: create, read, vendor adapters, key-kind policy. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { SECRET_NAME_PATTERN, vendorConfigSchema, webhookSecretRule } from '../../io/vendors/registry.ts';
import { WEBHOOK_SECRET_NAME } from '../../io/vendors/webhookEndpoints.ts';
import { LockError } from '../../errors.ts';
import { adapterStatus } from '../../machines/index.ts';
import { uuidV5 } from '../../ids.ts';
import type { PropertyView } from '../../readModel/index.ts';
import { type StoredResponse, logStoreFailure, sendStored, withIdempotency } from '../idempotency.ts';
import { type Principal, principalRef } from '../auth.ts';
import type { GatewayPorts } from '../ports.ts';
import {
  CreateProperty,
  Id,
  IdParams,
  KeyKindPolicyBody,
  Property,
  VendorAdapterBody,
  problemResponses,
} from '../schemas.ts';

const VendorParam = Type.Union(
  ['ttlock', 'salto-ks', 'salto-space', 'vostio', 'seam', 'generic-wiegand'].map((v) => Type.Literal(v)),
);
const VendorSecretBody = Type.Object(
  { value: Type.String({ minLength: 1, maxLength: 16_384, description: 'the secret; never returned' }) },
  { additionalProperties: false },
);
const VendorSecretVersion = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
});

const WebhookEndpointBody = Type.Object(
  {
    secret: Type.Optional(
      Type.String({ minLength: 1, maxLength: 400, description: "Seam: the webhook's whsec_ secret" }),
    ),
  },
  { additionalProperties: false },
);
const WebhookEndpointView = Type.Object({
  webhookId: Type.String(),
  url: Type.String({ description: 'the path to give the vendor (TTLock: with its token, shown once)' }),
});

const plain = { seal: (r: StoredResponse) => r, open: (r: StoredResponse) => r };
const problems = problemResponses(400, 401, 404);

/** The public view of a property: adapter configs are not echoed (they may name secret references). */
function publicView(v: PropertyView) {
  return {
    ...v,
    vendorAdapters: Object.fromEntries(
      Object.entries(v.vendorAdapters).map(([k, a]) => [k, { status: a.status, updatedAt: a.updatedAt }]),
    ),
  };
}

export function propertyRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  async function change(
    principal: Principal,
    id: string,
    event: { type: string; at: string },
    msgId: string,
  ) {
    const { tenantId } = principal;
    const before = await p.readModel.property(tenantId, id);
    if (!before) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${id}`);
    await p.mailbox.sendAndWait(
      { type: 'property', id },
      { tenantId, event, by: principalRef(principal) },
      msgId,
      (n) => n.version > before.version,
      p.waitBudgetMs,
    );
    return publicView((await p.readModel.property(tenantId, id)) ?? before);
  }

  return async (app) => {
    app.post(
      '/properties',
      {
        config: { scope: 'lock:admin' },
        schema: { tags: ['properties'], body: CreateProperty, response: { 201: Property, ...problems } },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        const key = req.headers['idempotency-key'] as string | undefined;
        const r = await withIdempotency(
          p.runtimeDb,
          tenantId,
          'POST /properties',
          key,
          req.body,
          async () => {
            const id = key ? uuidV5(`property:${tenantId}:${key}`) : randomUUID();
            // Created under this key already (a retry whose first answer was lost): its create is not sent again,
            // since nothing would answer a message the property ignores; a key pruned and used again, 422.
            const created = key ? await p.readModel.property(tenantId, id) : null;
            if (created && (created.name !== req.body.name || created.timezone !== req.body.timezone))
              throw new LockError('LOCK.IDEMPOTENCY_KEY_REUSED');
            if (created)
              return { status: 201, body: publicView(created) as unknown as Record<string, unknown> };
            const at = p.clock.now().toISOString();
            await p.mailbox.sendAndWait(
              { type: 'property', id },
              {
                tenantId,
                by: principalRef(req.principal),
                event: { type: 'property.create', at, name: req.body.name, timezone: req.body.timezone } as {
                  type: string;
                  at: string;
                },
              },
              `${id}:create`,
              (n) => n.version >= 1,
              p.waitBudgetMs,
            );
            const view = await p.readModel.property(tenantId, id);
            if (!view)
              throw new LockError(
                'LOCK.UNAVAILABLE',
                'the property was not created in time; retry with the same Idempotency-Key',
              );
            return { status: 201, body: publicView(view) as unknown as Record<string, unknown> };
          },
          { seal: plain, claimMs: p.idempotencyClaimMs, onStoreFailed: logStoreFailure(req.log) },
        );
        return sendStored(reply, r);
      },
    );

    app.get(
      '/properties/:id',
      {
        config: { scope: 'lock:read' },
        schema: { tags: ['properties'], params: IdParams, response: { 200: Property, ...problems } },
      },
      async (req) => {
        const v = await p.readModel.property(req.principal.tenantId, req.params.id);
        if (!v) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${req.params.id}`);
        return publicView(v);
      },
    );

    app.put(
      '/properties/:id/vendor-adapters/:vendor',
      {
        config: { scope: 'lock:admin' },
        schema: {
          tags: ['properties'],
          params: Type.Object({
            id: Id,
            vendor: VendorParam,
          }),
          body: VendorAdapterBody,
          response: { 200: Property, ...problems },
        },
      },
      async (req) => {
        // An empty config means the vendor's default (the simulator, in simulated mode).
        const problem =
          Object.keys(req.body.config).length > 0
            ? vendorConfigProblem(req.params.vendor, req.body.config)
            : null;
        if (problem) throw new LockError('LOCK.VALIDATION', `config${problem}`);
        const secretLike = Object.entries(req.body.config).find(
          ([k, v]) =>
            /secret|password|token|key$/i.test(k) &&
            typeof v === 'string' &&
            !v.startsWith('secret:') &&
            !v.startsWith('env:'),
        );
        if (secretLike)
          throw new LockError(
            'LOCK.VALIDATION',
            `config.${secretLike[0]} must be a secret reference (secret:NAME), not a value`,
          );
        await p.checkVendorConfig(req.principal.tenantId, req.body.config);
        const at = p.clock.now().toISOString();
        return change(
          req.principal,
          req.params.id,
          {
            type: 'property.setVendorAdapter',
            at,
            vendor: req.params.vendor,
            // `enabled` is the deprecated name of `active`.
            status: adapterStatus(req.body.status),
            config: req.body.config,
          } as { type: string; at: string },
          `${req.params.id}:adapter:${req.params.vendor}:${at}`,
        );
      },
    );

    app.put(
      '/properties/:id/vendor-adapters/:vendor/secrets/:name',
      {
        config: { scope: 'lock:admin' },
        schema: {
          tags: ['properties'],
          description:
            "Stores a new version of one of the adapter's secrets (an API key, a password, a client key), " +
            "sealed with the tenant's data key. Write-only: the value is never returned. The adapter's " +
            'config names it as secret:<name>; the previous version is destroyed after the next ' +
            'successful vendor call with this one.',
          params: Type.Object({
            id: Id,
            vendor: VendorParam,
            name: Type.String({ pattern: SECRET_NAME_PATTERN }),
          }),
          body: VendorSecretBody,
          response: { 200: VendorSecretVersion, ...problems },
        },
      },
      async (req) => {
        const { tenantId } = req.principal;
        if (req.params.name === WEBHOOK_SECRET_NAME)
          throw new LockError(
            'LOCK.VALIDATION',
            'the webhook secret is set with PUT …/vendor-adapters/:vendor/webhook',
          );
        const property = await p.readModel.property(tenantId, req.params.id);
        if (!property) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${req.params.id}`);
        const stored = await p.vendorSecrets.put(
          { tenantId, propertyId: req.params.id, vendor: req.params.vendor },
          req.params.name,
          req.body.value,
          principalRef(req.principal),
        );
        return { name: req.params.name, version: stored.version, createdAt: stored.createdAt };
      },
    );

    app.put(
      '/properties/:id/vendor-adapters/:vendor/webhook',
      {
        config: { scope: 'lock:admin' },
        schema: {
          tags: ['properties'],
          description:
            "Sets the adapter's webhook endpoint: its own URL and secret. Seam: give the workspace webhook's " +
            'signing secret (whsec_…). TTLock: give nothing; the answer carries the callback URL with a new ' +
            "token, shown this once (set it as the TTLock app's callback URL). Setting it again replaces " +
            'the secret at once.',
          params: Type.Object({ id: Id, vendor: VendorParam }),
          body: WebhookEndpointBody,
          response: { 200: WebhookEndpointView, ...problems },
        },
      },
      async (req) => {
        const { tenantId } = req.principal;
        const { vendor, id: propertyId } = req.params;
        const rule = webhookSecretRule(vendor);
        if (!rule) throw new LockError('LOCK.VALIDATION', `vendor ${vendor} sends no webhooks`);
        let secret: string;
        if ('given' in rule) {
          if (!req.body.secret || !rule.given.test(req.body.secret))
            throw new LockError(
              'LOCK.VALIDATION',
              `secret: the ${vendor} webhook's signing secret is required`,
            );
          secret = req.body.secret;
        } else {
          if (req.body.secret !== undefined)
            throw new LockError(
              'LOCK.VALIDATION',
              `secret: the ${vendor} callback token is made by the service`,
            );
          secret = randomBytes(24).toString('base64url');
        }
        const property = await p.readModel.property(tenantId, propertyId);
        if (!property) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${propertyId}`);
        const webhookId = await p.webhookEndpoints.set(
          { tenantId, propertyId, vendor },
          secret,
          principalRef(req.principal),
        );
        const path = `/webhooks/v1/${vendor}/${webhookId}`;
        return 'given' in rule ? { webhookId, url: path } : { webhookId, url: `${path}?token=${secret}` };
      },
    );

    app.put(
      '/properties/:id/key-kind-policy',
      {
        config: { scope: 'lock:admin' },
        schema: {
          tags: ['properties'],
          params: IdParams,
          body: KeyKindPolicyBody,
          response: { 200: Property, ...problems },
        },
      },
      async (req) => {
        const at = p.clock.now().toISOString();
        return change(
          req.principal,
          req.params.id,
          { type: 'property.setKeyKindPolicy', at, policy: req.body } as { type: string; at: string },
          `${req.params.id}:policy:${at}`,
        );
      },
    );
  };
}

const checkers = new Map<string, ReturnType<typeof Compile> | null>();

/** What is wrong with a vendor's config, or null (a vendor without an adapter takes any config). */
function vendorConfigProblem(vendor: string, config: unknown): string | null {
  if (!checkers.has(vendor)) {
    const schema = vendorConfigSchema(vendor);
    checkers.set(vendor, schema ? Compile(schema) : null);
  }
  const check = checkers.get(vendor);
  if (!check || check.Check(config)) return null;
  for (const e of check.Errors(config)) return `${e.instancePath ?? ''} ${e.message}`.trimEnd();
  return ' is not valid';
}
