/**
 * CPU time spent during a run, by process kind: this process (the service, its gateway and the in-process
 * vendor simulator), PostgreSQL's backends, nats-server, Restate's server, other Node processes (load
 * generators, a peer's service) and the rest of the machine. Sampled from /proc (Linux; null elsewhere) every
 * half second, each process from the sample where it is first seen to the last where it is still alive, so
 * a process that ends during the run keeps what it spent up to its last sample. On a machine whose cores the
 * whole run shares, CPU per request says what a request costs where throughput alone moves with the VM's
 * other tenants.
 */
import { readdirSync, readFileSync } from 'node:fs';

const KINDS = ['service', 'postgres', 'nats', 'restate', 'node', 'other'] as const;
type Kind = (typeof KINDS)[number];
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const SAMPLE_MS = 500;

interface Seen {
  kind: Kind;
  first: number;
  last: number;
}

function kindOf(pid: number, comm: string): Kind {
  if (pid === process.pid) return 'service';
  if (comm === 'postgres') return 'postgres';
  if (comm === 'nats-server') return 'nats';
  if (comm.startsWith('restate')) return 'restate';
  if (comm === 'node' || comm === 'MainThread') return 'node';
  return 'other';
}

/** Every process's utime + stime, in ticks; null where /proc cannot be read. */
function sample(): Map<number, { comm: string; ticks: number; cmdline: () => string }> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  const out = new Map<number, { comm: string; ticks: number; cmdline: () => string }>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), {
        comm,
        ticks: Number(fields[11]) + Number(fields[12]),
        cmdline: () => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' '),
      });
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

export type CpuPerItem = Partial<Record<Kind, { coreShare: number; msPerItem: number }>>;

/**
 * Starts sampling. `stop(items)` gives each kind's share of a core and CPU milliseconds per item over the
 * run. With `during`, only the stretch while a process whose command line has each of its strings is alive counts (a
 * peer's measured load run, not its start-up and warm-up).
 */
export function cpuShare(o: { during?: string[] } = {}) {
  const seen = new Map<number, Seen>();
  let started: number | null = o.during ? null : performance.now();
  let ended: number | null = null;
  let failed = false;
  const tick = () => {
    const now = sample();
    if (!now) {
      failed = true;
      return;
    }
    if (o.during) {
      const live = [...now.values()].some((p) => {
        try {
          const cmd = p.cmdline();
          return o.during?.every((x) => cmd.includes(x)) ?? false;
        } catch {
          return false;
        }
      });
      if (live && started === null) started = performance.now();
      if (!live && started !== null && ended === null) ended = performance.now();
      if (started === null || ended !== null) return;
    }
    for (const [pid, p] of now) {
      const s = seen.get(pid);
      if (s) s.last = p.ticks;
      else seen.set(pid, { kind: kindOf(pid, p.comm), first: p.ticks, last: p.ticks });
    }
  };
  tick();
  const timer = setInterval(tick, SAMPLE_MS);
  timer.unref(); // A run that throws before stop() must not keep the process alive.
  return {
    stop(items: number): CpuPerItem | null {
      clearInterval(timer);
      if (!o.during || ended === null) tick();
      const end = ended ?? performance.now();
      if (failed || started === null) return null;
      const seconds = (end - started) / 1000;
      const ticks = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
      for (const s of seen.values()) ticks[s.kind] += s.last - s.first;
      const out: CpuPerItem = {};
      for (const k of KINDS) {
        const cpuSeconds = ticks[k] / TICKS_PER_SECOND;
        if (cpuSeconds === 0) continue;
        out[k] = {
          coreShare: Math.round((cpuSeconds / seconds) * 100) / 100,
          msPerItem: Math.round(((cpuSeconds * 1000) / Math.max(1, items)) * 1000) / 1000,
        };
      }
      return out;
    },
  };
}
