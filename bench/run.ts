/**
 * `npm run bench`: the three figures issue #2 asks for, on this machine's local PostgreSQL and NATS with
 * the vendor simulator in process. Writes bench/results/<date>-<commit>.json with the machine and commit.
 * Scenarios can be chosen: `npm run bench -- events rest resident deactivation` (default: all).
 * Sizes: BENCH_EVENTS (20000), BENCH_REST (5000), BENCH_CLIENTS (32), BENCH_ACTORS (100000),
 * BENCH_WEBHOOKS (20000), BENCH_WEBHOOK_CLIENTS (64), BENCH_WEBHOOK_TRIALS (3), BENCH_WEBHOOK_CLIENT (raw|undici).
 * BENCH_PEER=1 runs the Restate and DBOS peers afterwards with the REST size and records the ratios; the
 * REST run and each peer record their CPU per request by process kind (cpuShare.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { connect as natsConnect } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { dropDatabase } from '../test/support/harness.ts';
import { type BenchEnvironment, benchProcesses, NATS_URL, PG, startBenchEnvironment } from './environment.ts';
import { deactivation } from './deactivation.ts';
import { eventIssuance } from './eventIssuance.ts';
import { metricsProfile } from './profile.ts';
import { restIssuance } from './restIssuance.ts';
import { webhookIngest } from './webhookIngest.ts';
import { ExportResultCode } from '@opentelemetry/core';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '../src/observability/tracing.ts';
import { PEER_SCRIPTS, ratio, runPeer } from './peers.ts';
import { timelineRecorder } from './timeline.ts';

const run = promisify(execFile);
const chosen = new Set(
  process.argv.slice(2).length
    ? process.argv.slice(2)
    : ['events', 'rest', 'webhooks', 'resident', 'deactivation'],
);
const size = (name: string, d: number) => Number(process.env[name] ?? d);

/**
 * BENCH_TRACE: `ids` (default, as `npm start` without a collector: trace ids made, propagated and logged, no
 * span recorded), `off` (no tracing installed at all), `export` (every span recorded and handed, in batches,
 * to an exporter that drops it: what a collector costs this process, short of the network), `timeline` (every
 * span kept in process; the REST result gets its requests' step-by-step timeline: `timeline.ts`).
 */
const traceMode = process.env.BENCH_TRACE ?? 'ids';
const droppingExporter: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
};
const timeline = traceMode === 'timeline' ? timelineRecorder() : null;
if (traceMode !== 'off')
  await startTracing(
    traceMode === 'export'
      ? { exporter: droppingExporter, batch: true }
      : timeline
        ? { exporter: timeline.exporter }
        : {},
  );

async function machine() {
  const nc = await natsConnect({ servers: NATS_URL });
  const natsVersion = nc.info?.version;
  await nc.close();
  const git = (...a: string[]) => execFileSync('git', a, { encoding: 'utf8' }).trim();
  return {
    commit: git('rev-parse', 'HEAD'),
    // Earlier results coming and going, and prose, do not make the code under test dirty.
    dirty:
      git('status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results', ':!*.md') !== '',
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    postgres: execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-Atc', 'show server_version'], {
      encoding: 'utf8',
    }).trim(),
    nats: natsVersion,
  };
}

/** Waits until the outbox and the effect intents are empty (at most two minutes); returns the seconds. */
async function quiesce(env: BenchEnvironment): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < 120_000) {
    const { rows } = await sql<{ n: string }>`
      select (select count(*) from outbox) + (select count(*) from effect_intents) as n`.execute(env.admin);
    if (Number(rows[0]?.n) === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return Math.round((performance.now() - t0) / 100) / 10;
}

const results: Record<string, unknown> = {
  at: new Date().toISOString(),
  machine: await machine(),
  // The vendor behind the service: the TTLock simulator over HTTP in this process, or (BENCH_VENDOR=memory)
  // a zero-cost one, as the peers' vendor step is.
  vendor: process.env.BENCH_VENDOR === 'memory' ? 'memory' : 'ttlock-simulator',
  // Runtime processes sharing the partitions (BENCH_PROCESSES; the first is this one).
  processes: benchProcesses,
  // A new credential's vendor calls in its turn (the default), or after its commit (BENCH_CALLS_IN_TURN=0).
  callsInTurn: process.env.BENCH_CALLS_IN_TURN !== '0',
};
const log = (what: string, r: unknown) => console.log(`${what}: ${JSON.stringify(r)}`);

if (chosen.has('deactivation')) {
  const tenantId = 'bench-tenant';
  // The first 200 rooms' locks are one wing: a master key on 200 locks.
  const env = await startBenchEnvironment({
    rooms: 400,
    tenantId,
    areasOf: (room) => [Number(room) - 101 < 200 ? 'wing-a' : 'wing-b'],
  });
  try {
    const r = await deactivation(env, tenantId, 'wing-a', size('BENCH_DEACTIVATION_BACKLOG', 2000));
    results.deactivation = { what: 'iam.user.deactivated.v1 to the last vendor revoke, 200 locks', ...r };
    log('deactivation', r);
  } finally {
    await env.close();
  }
}

if (chosen.has('events') || chosen.has('rest') || chosen.has('webhooks')) {
  const tenantId = 'bench-tenant';
  const env = await startBenchEnvironment({ rooms: 400, tenantId });
  try {
    if (chosen.has('events')) {
      const r = await eventIssuance(env, tenantId, size('BENCH_EVENTS', 20_000));
      results.eventIssuance = {
        target: '>= 1000 credentials/s',
        ...r,
        // BENCH_INSPECT=1: with every transition streamed to a WebSocket inspector (its messages counted).
        inspection:
          process.env.BENCH_INSPECT === '1' ? { on: true, messages: env.inspected() } : { on: false },
        tracing: traceMode,
        profile: await metricsProfile(env.service.metrics),
      };
      env.service.metrics.registry.resetMetrics();
      log('event-driven issuance', { ...r, progress: undefined });
    }
    if (chosen.has('rest')) {
      const r = await restIssuance(env, tenantId, size('BENCH_REST', 5000), size('BENCH_CLIENTS', 32));
      results.restIssuance = {
        target: '>= 800 settled/s, p99 <= 100 ms',
        ...r,
        tracing: traceMode,
        profile: await metricsProfile(env.service.metrics),
        ...(timeline
          ? { timeline: timeline.report('POST /api/v1/key-credentials', size('BENCH_REST', 5000)) }
          : {}),
      };
      log('REST closed loop', r);
    }
    if (chosen.has('webhooks')) {
      // Measured on a quiet service: the earlier scenarios' outbox and vendor calls drained first.
      const waited = await quiesce(env);
      log('quiet after', { seconds: waited });
      const r = await webhookIngest(
        env,
        size('BENCH_WEBHOOKS', 20_000),
        size('BENCH_WEBHOOK_CLIENTS', 64),
        size('BENCH_WEBHOOK_TRIALS', 3),
        process.env.BENCH_WEBHOOK_CLIENT === 'undici' ? 'undici' : 'raw',
      );
      results.webhookIngest = { target: '>= 5000 verified/s, p99 <= 50 ms, stored = acknowledged', ...r };
      log('webhook ingest', r);
    }
  } finally {
    await env.close();
  }
}

if (chosen.has('resident')) {
  const url = `${PG}/lock_bench_res_${randomBytes(4).toString('hex')}`;
  try {
    const { stdout } = await run(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        'bench/residentActors.ts',
        url,
        String(size('BENCH_ACTORS', 100_000)),
      ],
      { maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    results.residentActors = { target: 'RSS <= 1.5 GiB, activation p99 <= 5 ms', ...r };
    log('resident actors', r);
  } finally {
    await dropDatabase(url);
  }
}

// The peers (../shared/bench), right after on the same machine state, for the ratios (BENCH_PEER=1): Restate,
// then DBOS.
if (process.env.BENCH_PEER) {
  const rest = results.restIssuance as { settledPerSecond?: number; p50?: number; p99?: number } | undefined;
  for (const [name, label, script] of [
    ['restatePeer', 'Restate peer', PEER_SCRIPTS.restate],
    ['dbosPeer', 'DBOS peer', PEER_SCRIPTS.dbos],
  ] as const) {
    if (!existsSync(script)) continue;
    const peer = await runPeer(script, size('BENCH_REST', 5000), size('BENCH_CLIENTS', 32));
    results[name] = {
      ...peer,
      ...(rest?.settledPerSecond
        ? {
            throughputRatio: ratio(rest.settledPerSecond, peer.perSecond),
            p50Ratio: ratio(rest.p50 ?? 0, peer.p50),
            p99Ratio: ratio(rest.p99 ?? 0, peer.p99),
          }
        : {}),
    };
    log(label, results[name]);
  }
}

mkdirSync('bench/results', { recursive: true });
const m = results.machine as { commit: string };
const file = `bench/results/${new Date().toISOString().slice(0, 19).replace(/:/g, '')}-${m.commit.slice(0, 7)}.json`;
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`results in ${file}`);
process.exit(0);
