/** Builds the production gateway plugin over a harness's service, with development auth. */
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { buildGateway } from '../../src/gateway/app.ts';
import { createDevAuthenticator, signDevToken } from '../../src/gateway/auth.ts';
import type { WebhookSecrets } from '../../src/io/vendors/registry.ts';
import type { Scope } from '../../src/gateway/scopes.ts';
import { systemClock } from '../../src/ids.ts';
import { gatewayPorts } from '../../src/service.ts';
import type { Harness } from './harness.ts';

export async function buildTestGateway(
  h: Harness,
  opts: { waitBudgetMs?: number; webhookSecrets?: WebhookSecrets; logger?: FastifyBaseLogger } = {},
) {
  const secret = randomBytes(32);
  const app = await buildGateway(
    gatewayPorts(
      h.service,
      createDevAuthenticator(secret),
      opts.waitBudgetMs ?? 5000,
      systemClock,
      opts.webhookSecrets,
    ),
    { ...(opts.logger ? { logger: opts.logger } : {}) },
  );
  return {
    app,
    token: (tenantId: string, ttlSeconds?: number, scopes?: readonly Scope[]) =>
      signDevToken(secret, tenantId, {
        ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
        ...(scopes ? { scopes } : {}),
      }),
  };
}
