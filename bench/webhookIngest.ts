/**
 * Scenario 4: webhook ingest. Signed Seam events from a load process (C clients) against one property
 * adapter's endpoint `/webhooks/v1/seam/<webhookId>`; after each trial the inbox must hold exactly as many new events as were
 * acknowledged.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { buildGateway } from '../src/gateway/app.ts';
import { createDevAuthenticator } from '../src/gateway/auth.ts';
import { systemClock } from '../src/ids.ts';
import { gatewayPorts } from '../src/service.ts';
import type { BenchEnvironment } from './environment.ts';

const run = promisify(execFile);

/** What webhookLoad.ts prints. */
interface LoadResult {
  perSecond: number;
  p50: number;
  p99: number;
  acknowledged: number;
}

export async function webhookIngest(
  env: BenchEnvironment,
  n: number,
  clients: number,
  trials = 3,
  client: 'raw' | 'undici' = 'raw',
) {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const webhookId = await env.service.webhookEndpoints.set(
    { tenantId: 'bench-webhooks', propertyId: randomUUID(), vendor: 'seam' },
    secret,
    'user:bench',
  );
  const app = await buildGateway(
    gatewayPorts(env.service, createDevAuthenticator(randomBytes(32)), 1000, systemClock),
    { logger: env.gatewayLogger },
  );
  const base = `${await app.listen({ port: 0, host: '127.0.0.1' })}/webhooks/v1/seam/${webhookId}`;
  const count = async () =>
    Number(
      (
        await sql<{ n: string }>`select count(*) as n from webhook_inbox where vendor = 'seam'`.execute(
          env.admin,
        )
      ).rows[0]?.n,
    );
  const load = async (count: number, c: number) => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'bench/webhookLoad.ts', base, secret, String(count), String(c), client],
      { maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as LoadResult;
  };
  try {
    const warm = await load(5000, clients);
    // Ingest alone (routing paused, as during a burst the router lags), `trials` times: this VM varies by
    // a quarter from one run to the next, so the figure is the median trial, with every trial recorded.
    await env.service.webhookRouter.stop();
    const runs = [];
    for (let i = 0; i < trials; i++) {
      const before = await count();
      const r = await load(n, clients);
      const stored = (await count()) - before;
      runs.push({ perSecond: r.perSecond, p50: r.p50, p99: r.p99, acknowledged: r.acknowledged, stored });
    }
    const median = runs.toSorted((a, b) => a.perSecond - b.perSecond)[runs.length >> 1];
    env.service.webhookRouter.start();
    const routed = await load(n, clients);
    return {
      n,
      c: clients,
      client,
      perSecond: median?.perSecond,
      p50: median?.p50,
      p99: median?.p99,
      p99Worst: Math.max(...runs.map((r) => r.p99)),
      storedEqualsAcknowledged: runs.every((r) => r.stored === r.acknowledged),
      trials: runs,
      warmup: warm.acknowledged,
      whileRouting: {
        perSecond: routed.perSecond,
        p50: routed.p50,
        p99: routed.p99,
        acknowledged: routed.acknowledged,
      },
    };
  } finally {
    await app.close();
  }
}
