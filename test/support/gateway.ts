/** Builds the production gateway plugin over a harness's service, with development auth. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { buildGateway } from '../../src/gateway/app.ts';
import { createDevAuthenticator, signDevToken } from '../../src/gateway/auth.ts';
import type { GatewayOptions } from '../../src/gateway/app.ts';
import type { Scope } from '../../src/gateway/scopes.ts';
import { type Clock, systemClock } from '../../src/ids.ts';
import { gatewayPorts } from '../../src/service.ts';
import type { Harness } from './harness.ts';

export async function buildTestGateway(
  h: Harness,
  opts: {
    waitBudgetMs?: number;
    logger?: FastifyBaseLogger;
    webhookLimits?: GatewayOptions['webhookLimits'];
    https?: GatewayOptions['https'];
    /** The gateway's clock (another process's, running behind, say). */
    clock?: Clock;
  } = {},
) {
  const secret = randomBytes(32);
  const app = await buildGateway(
    gatewayPorts(
      h.service,
      createDevAuthenticator(secret),
      opts.waitBudgetMs ?? 5000,
      opts.clock ?? systemClock,
    ),
    {
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.webhookLimits ? { webhookLimits: opts.webhookLimits } : {}),
      ...(opts.https ? { https: opts.https } : {}),
    },
  );
  const token = (tenantId: string, ttlSeconds?: number, scopes?: readonly Scope[], subject?: string) =>
    signDevToken(secret, tenantId, {
      ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
      ...(scopes ? { scopes } : {}),
      ...(subject ? { subject } : {}),
    });
  return {
    app,
    token,
    /** A guest's PIN for room 101 (or `rooms`), valid from an hour ago for a day (or `validUntil`), through REST. */
    issuePin: async (
      tenantId: string,
      propertyId: string,
      o: { idempotencyKey?: string; rooms?: string[]; validUntil?: string } = {},
    ) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/key-credentials',
        headers: {
          authorization: `Bearer ${await token(tenantId)}`,
          'idempotency-key': o.idempotencyKey ?? randomUUID(),
        },
        payload: {
          propertyId,
          holder: { kind: 'guest', ref: 'guest-1' },
          kind: 'pin',
          rooms: o.rooms ?? ['101'],
          validFrom: new Date(Date.now() - 3_600_000).toISOString(),
          validUntil: o.validUntil ?? new Date(Date.now() + 86_400_000).toISOString(),
        },
      }),
  };
}

/** Sets a property adapter's webhook endpoint through the API; the path (with TTLock's token) to post to. */
export async function webhookEndpoint(
  gw: Awaited<ReturnType<typeof buildTestGateway>>,
  tenantId: string,
  propertyId: string,
  vendor: 'seam' | 'ttlock',
  secret?: string,
): Promise<{ webhookId: string; url: string }> {
  const r = await gw.app.inject({
    method: 'PUT',
    url: `/api/v1/properties/${propertyId}/vendor-adapters/${vendor}/webhook`,
    headers: { authorization: `Bearer ${await gw.token(tenantId)}` },
    payload: secret === undefined ? {} : { secret },
  });
  if (r.statusCode !== 200) throw new Error(`webhook endpoint: ${r.statusCode} ${r.body}`);
  return r.json() as { webhookId: string; url: string };
}
