/**
 * Scenario 2: REST `POST /key-credentials`, closed loop. The gateway runs in this process over the
 * environment's service; the load runs in a child process (as the Restate peer's does). A warm-up of
 * 500 requests at 16 clients precedes the measured run, as in the peer.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { buildGateway } from '../src/gateway/app.ts';
import { createDevAuthenticator, signDevToken } from '../src/gateway/auth.ts';
import { systemClock } from '../src/ids.ts';
import { gatewayPorts } from '../src/service.ts';
import { cpuShare } from './cpuShare.ts';
import type { BenchEnvironment } from './environment.ts';

const run = promisify(execFile);

export async function restIssuance(env: BenchEnvironment, tenantId: string, n: number, clients: number) {
  const secret = randomBytes(32);
  const app = await buildGateway(
    gatewayPorts(env.service, createDevAuthenticator(secret), 1000, systemClock),
    { logger: env.gatewayLogger },
  );
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const token = await signDevToken(secret, tenantId, { ttlSeconds: 3600 });
  const load = async (count: number, c: number) => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/load.ts',
        base,
        token,
        env.propertyId,
        env.roomIds.join(','),
        String(count),
        String(c),
      ],
      { maxBuffer: 1 << 20 },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  };
  try {
    await load(500, 16);
    // How late the service's event loop ran its callbacks during the run: a request waits that long at each
    // of its hops (the tail's share of it shows at p99).
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const cpu = cpuShare();
    // The main thread's busy share: the process's CPU share also counts GC and libuv threads.
    const elu = performance.eventLoopUtilization();
    const r = await load(n, clients);
    const eventLoopUtilization = Math.round(performance.eventLoopUtilization(elu).utilization * 100) / 100;
    const cpuPerRequest = cpu.stop(n);
    delay.disable();
    const ms = (x: number) => Math.round(x / 1e4) / 100;
    return {
      ...r,
      cpuPerRequest,
      eventLoopUtilization,
      eventLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    };
  } finally {
    await app.close();
  }
}
