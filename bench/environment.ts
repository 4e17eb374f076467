/**
 * One benchmark environment: its own database and stream prefix, a TTLock simulator in this process with
 * enough locks for the run (the real lock's 250-passcode cap applies), the service with production
 * defaults, and a property whose rooms each have a TTLock lock. Removed again by `close()`.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { systemClock } from '../src/ids.ts';
import { connect } from '../src/io/db/index.ts';
import { createLogger } from '../src/logger.ts';
import { startTtlockSimulator, TTLOCK_SIM_DEFAULTS } from '../src/io/vendors/ttlock/index.ts';
import { type ServiceSettings, startService } from '../src/service.ts';
import { seedProperty } from '../test/support/fixtures.ts';
import { memoryVendor } from './memoryVendor.ts';
import { dropDatabase, dropNats, eventually } from '../test/support/harness.ts';
import { type RuntimeProcess, spawnRuntime } from '../test/support/processes.ts';

export const PG = 'postgres://postgres@127.0.0.1:5432';
export const NATS_URL = 'nats://127.0.0.1:4222';
/** BENCH_PROCESSES: runtime processes sharing the partitions, this one included (issue 15's "both cores"). */
export const benchProcesses = Math.max(1, Number(process.env.BENCH_PROCESSES ?? 1));

export async function startBenchEnvironment(opts: {
  rooms: number;
  tenantId: string;
  /** Areas of each room's lock (staff master keys cover areas). */
  areasOf?: (roomId: string) => string[];
}) {
  const id = randomBytes(4).toString('hex');
  const ttlock = await startTtlockSimulator({ lockCount: opts.rooms });
  const memory =
    process.env.BENCH_VENDOR === 'memory'
      ? memoryVendor(Array.from({ length: opts.rooms }, (_, i) => String(7001 + i)))
      : null;
  // BENCH_INSPECT=1: every committed transition streamed to a WebSocket inspector in this process (as a
  // developer's Stately inspector would take them), to measure what inspection costs.
  const inspector = process.env.BENCH_INSPECT === '1' ? await startInspectorSink() : null;
  const settings: ServiceSettings = {
    databaseUrl: `${PG}/lock_bench_${id}`,
    natsUrl: NATS_URL,
    prefix: `bench${id}`,
    // The production defaults of config.ts.
    partitions: 32,
    owner: `bench-${id}`,
    leaseTtlMs: 10_000,
    ackWaitMs: 10_000,
    effectTimeoutMs: 4000,
    breaker: { openAfterFailures: 20, resetAfterMs: 30_000 },
    secretKeyId: 'bench',
    secretKey: randomBytes(32),
    vendorDefaults: { ttlock: { baseUrl: ttlock.url, ...TTLOCK_SIM_DEFAULTS } },
    secrets: {},
    createPlatformStream: true,
    clock: systemClock,
    ...(inspector ? { inspectWsUrl: inspector.url } : {}),
    // BENCH_CALLS_IN_TURN=0: a new credential's vendor calls after its commit (by default they run in its turn).
    ...(process.env.BENCH_CALLS_IN_TURN === '0' ? { callsInTurn: false } : {}),
    // BENCH_VENDOR=memory: a vendor with no latency and no cost in place of the TTLock simulator (the peers'
    // benchmarks have one: a Map write); the simulator still runs, unused.
    ...(memory ? { adapterFactories: { ttlock: () => memory.adapter } } : {}),
    // BENCH_LOG=1 shows the runtime's own log lines (lease changes, retries) on stderr.
    log: process.env.BENCH_LOG ? (msg, data) => console.error(msg, JSON.stringify(data ?? {})) : () => {},
  };
  const service = await startService(settings);
  // The other runtime processes share the partitions through the lease bucket, each with its own group
  // commit; measured once every process holds its fair share.
  const others: RuntimeProcess[] = [];
  for (let k = 1; k < benchProcesses; k++) others.push(await spawnRuntime(settings, `bench-${id}-${k}`));
  if (others.length > 0) {
    const fair = Math.ceil(settings.partitions / benchProcesses);
    await eventually(
      async () => service.runtime.ownedPartitions().length <= fair || undefined,
      120_000,
      'the partitions shared between the processes',
    );
  }
  // The owner role, to count across RLS without touching the service's pools.
  const admin = connect(settings.databaseUrl, { max: 1, applicationName: 'bench' });
  const rooms: Record<string, string> = {};
  for (let i = 0; i < opts.rooms; i++) rooms[String(101 + i)] = String(7001 + i);
  const { propertyId } = await seedProperty(service, opts.tenantId, rooms, opts.areasOf);
  return {
    settings,
    service,
    ttlock,
    admin,
    propertyId,
    roomIds: Object.keys(rooms),
    /**
     * The gateway's logger as in production (info, redaction, a write per line), into /dev/null: the
     * benchmark pays for request logging as the service does.
     */
    gatewayLogger: createLogger('info', pino.destination({ dest: '/dev/null', sync: true })),
    /** Inspection messages received (BENCH_INSPECT=1), or null. */
    inspected: () => inspector?.received() ?? null,
    async close() {
      await admin.destroy();
      for (const o of others) await o.stop();
      await service.stop();
      await inspector?.close();
      await ttlock.close();
      await dropNats(settings.prefix);
      // BENCH_KEEP_DB=1 keeps the database for a look afterwards (pg_stat_user_functions, say).
      if (process.env.BENCH_KEEP_DB !== '1') await dropDatabase(settings.databaseUrl);
    },
  };
}

/** A WebSocket server that takes inspection messages and counts them (what an inspector's socket does). */
async function startInspectorSink() {
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  let received = 0;
  server.on('connection', (socket) => socket.on('message', () => (received += 1)));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type BenchEnvironment = Awaited<ReturnType<typeof startBenchEnvironment>>;

export function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
