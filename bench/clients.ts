/**
 * `npm run bench:clients`: REST issuance (`POST /key-credentials`, closed loop) with the zero-cost vendor the
 * peers have (BENCH_VENDOR=memory), at 32, 1, 8 and 128 clients, each count followed at once by the Restate
 * and DBOS peers (../shared/bench) at the same count, so every ratio comes from the same minutes of this
 * shared VM. Writes `bench/results/<time>-<commit>-clients.json`. Sizes: BENCH_REST (5000; 500 at one
 * client), BENCH_CLIENT_COUNTS (`32,1,8,128`). A peer whose script is absent is left out.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { PEER_SCRIPTS, ratio, runPeer } from './peers.ts';

const run = promisify(execFile);

interface Figure {
  n: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU per request by process kind over the measured run (`cpuShare.ts`). */
  cpuPerRequest?: unknown;
}

const counts = (process.env.BENCH_CLIENT_COUNTS ?? '32,1,8,128').split(',').map(Number);
const size = Number(process.env.BENCH_REST ?? 5000);
// DBOS at one client is not run: its figure there was never part of the comparison (issue 15's targets).
const peers = { restatePeer: PEER_SCRIPTS.restate, dbosPeer: PEER_SCRIPTS.dbos } as const;

/** This service's REST run at `c` clients, through `npm run bench -- rest` (its own database and streams). */
async function ours(c: number, n: number): Promise<Figure & { eventLoopDelayMs: unknown }> {
  const { stdout } = await run('npm', ['run', '-s', 'bench', '--', 'rest'], {
    env: { ...process.env, BENCH_VENDOR: 'memory', BENCH_CLIENTS: String(c), BENCH_REST: String(n) },
    maxBuffer: 1 << 24,
  });
  const file = /results in (\S+)/.exec(stdout)?.[1];
  if (!file) throw new Error(`no result file in: ${stdout.slice(-2000)}`);
  const r = (JSON.parse(readFileSync(file, 'utf8')) as { restIssuance: Record<string, number> }).restIssuance;
  return {
    n,
    perSecond: r.settledPerSecond ?? Number.NaN,
    p50: r.p50 ?? Number.NaN,
    p99: r.p99 ?? Number.NaN,
    cpuPerRequest: (r as Record<string, unknown>).cpuPerRequest,
    eventLoopDelayMs: r.eventLoopDelayMs,
  };
}

/** A peer's figures at `c` clients. */
async function peer(script: string, c: number, n: number): Promise<Figure> {
  const r = await runPeer(script, n, c);
  return {
    n,
    perSecond: Number(r.perSecond),
    p50: Number(r.p50),
    p99: Number(r.p99),
    cpuPerRequest: r.cpuPerRequest,
  };
}

const results: Record<string, Record<string, Figure>> = { ours: {}, restatePeer: {}, dbosPeer: {} };
const ratios: Record<string, Record<string, { throughput: number; p50: number; p99: number }>> = {
  restate: {},
  dbos: {},
};
for (const c of counts) {
  const n = c === 1 ? Math.min(size, 500) : size;
  const key = `c${c}`;
  const mine = await ours(c, n);
  results.ours![key] = mine;
  console.log(`${key} here: ${JSON.stringify(mine)}`);
  for (const [name, script] of Object.entries(peers)) {
    if (!existsSync(script) || (name === 'dbosPeer' && c === 1)) continue;
    const p = await peer(script, c, n);
    results[name]![key] = p;
    ratios[name === 'restatePeer' ? 'restate' : 'dbos']![key] = {
      throughput: ratio(mine.perSecond, p.perSecond),
      p50: ratio(mine.p50, p.p50),
      p99: ratio(mine.p99, p.p99),
    };
    console.log(`${key} ${name}: ${JSON.stringify(p)}`);
  }
}

const { stdout: commit } = await run('git', ['rev-parse', '--short=7', 'HEAD']);
const at = new Date().toISOString();
mkdirSync('bench/results', { recursive: true });
const file = `bench/results/${at.slice(0, 19).replace(/:/g, '')}-${commit.trim()}-clients.json`;
writeFileSync(
  file,
  `${JSON.stringify(
    {
      at,
      note: 'REST POST /key-credentials closed loop per client count (BENCH_VENDOR=memory), each count followed at once by the Restate and DBOS peers at the same count (bench/clients.ts).',
      ...results,
      ratios,
    },
    null,
    2,
  )}\n`,
);
console.log(`results in ${file}`);
