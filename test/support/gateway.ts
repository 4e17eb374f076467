/** Builds the production gateway plugin over a harness's service, with development auth. */
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { buildGateway } from '../../src/gateway/app.ts';
import { createDevAuthenticator, signDevToken } from '../../src/gateway/auth.ts';
import type { GatewayOptions } from '../../src/gateway/app.ts';
import type { Scope } from '../../src/gateway/scopes.ts';
import { systemClock } from '../../src/ids.ts';
import { gatewayPorts } from '../../src/service.ts';
import type { Harness } from './harness.ts';

export async function buildTestGateway(
  h: Harness,
  opts: {
    waitBudgetMs?: number;
    logger?: FastifyBaseLogger;
    webhookLimits?: GatewayOptions['webhookLimits'];
    https?: GatewayOptions['https'];
  } = {},
) {
  const secret = randomBytes(32);
  const app = await buildGateway(
    gatewayPorts(h.service, createDevAuthenticator(secret), opts.waitBudgetMs ?? 5000, systemClock),
    {
      ...(opts.logger ? { logger: opts.logger } : {}),
      ...(opts.webhookLimits ? { webhookLimits: opts.webhookLimits } : {}),
      ...(opts.https ? { https: opts.https } : {}),
    },
  );
  return {
    app,
    token: (tenantId: string, ttlSeconds?: number, scopes?: readonly Scope[], subject?: string) =>
      signDevToken(secret, tenantId, {
        ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
        ...(scopes ? { scopes } : {}),
        ...(subject ? { subject } : {}),
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
