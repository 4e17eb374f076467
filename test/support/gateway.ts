/** Builds the production gateway plugin over a harness's service, with development auth. */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { buildGateway } from '../../src/gateway/app.ts';
import { createDevAuthenticator, signDevToken } from '../../src/gateway/auth.ts';
import { systemClock } from '../../src/ids.ts';
import type { Harness } from './harness.ts';

export async function buildTestGateway(h: Harness) {
  const secret = randomBytes(32);
  const s = h.service;
  const app = await buildGateway({
    auth: createDevAuthenticator(secret),
    mailbox: s.mailbox,
    readModel: s.readModel,
    issuance: s.issuance,
    secrets: s.secrets,
    runtimeDb: s.runtimeDb,
    metrics: s.metrics,
    clock: systemClock,
    waitBudgetMs: 5000,
    ready: async () => ({
      nats: !s.nc.isClosed(),
      postgres: await sql`select 1`.execute(s.runtimeDb).then(
        () => true,
        () => false,
      ),
    }),
  });
  return { app, token: (tenantId: string, ttl?: number) => signDevToken(secret, tenantId, ttl) };
}
