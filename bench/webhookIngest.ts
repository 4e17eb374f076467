/**
 * Scenario 4: webhook ingest. Signed Seam events from a load process (C clients) against the gateway's
 * `/webhooks/v1/seam`; afterwards the inbox must hold exactly as many events as were acknowledged.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { buildGateway } from '../src/gateway/app.ts';
import { createDevAuthenticator } from '../src/gateway/auth.ts';
import { systemClock } from '../src/ids.ts';
import { gatewayPorts } from '../src/service.ts';
import type { BenchEnvironment } from './environment.ts';

const run = promisify(execFile);

export async function webhookIngest(env: BenchEnvironment, n: number, clients: number) {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const app = await buildGateway(
    gatewayPorts(env.service, createDevAuthenticator(randomBytes(32)), 1000, systemClock, { seam: secret }),
    { logger: env.gatewayLogger },
  );
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
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
      ['--import', 'tsx', 'bench/webhookLoad.ts', base, secret, String(count), String(c)],
      { maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { acknowledged: number } & Record<
      string,
      unknown
    >;
  };
  try {
    const warm = await load(5000, clients);
    // Ingest alone (routing paused, as during a burst the router lags), then with routing running.
    await env.service.webhookRouter.stop();
    const before = await count();
    const r = await load(n, clients);
    const storedDuringRun = (await count()) - before;
    env.service.webhookRouter.start();
    const routed = await load(n, clients);
    return {
      ...r,
      stored: storedDuringRun,
      storedEqualsAcknowledged: storedDuringRun === r.acknowledged,
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
