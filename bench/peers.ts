/** The peer benchmarks (`../shared/bench`): where their scripts are, one run of one, and a ratio to one. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpuShare } from './cpuShare.ts';

export const PEER_SCRIPTS = {
  restate: '../shared/bench/peer-restate/run.sh',
  dbos: '../shared/bench/peer-dbos/run.sh',
} as const;

/** A peer's run of `n` requests at `c` clients: the JSON line its script prints last, as printed. */
export async function runPeer(script: string, n: number, c: number): Promise<Record<string, unknown>> {
  // CPU per request over the peer's measured load run only (its load generator is `node load.mjs <url> N C`).
  const cpu = cpuShare({ during: ['load.mjs', ` ${n} ${c}`] });
  const { stdout } = await promisify(execFile)('bash', [script], {
    env: { ...process.env, N: String(n), C: String(c) },
    maxBuffer: 1 << 24,
  });
  const cpuPerRequest = cpu.stop(n);
  return {
    ...(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>),
    cpuPerRequest,
  };
}

/** `a / b` to two decimals (the peers print some figures as strings). */
export const ratio = (a: unknown, b: unknown) => Math.round((Number(a) / Number(b)) * 100) / 100;
