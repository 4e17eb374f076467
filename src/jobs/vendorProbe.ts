/**
 * The synthetic vendor check: the read-only part of the adapter contract (`test/contract`), run against each
 * configured adapter on a schedule, so an operator learns a vendor is down, or a property's credentials were
 * revoked at the vendor, before a guest's key fails. Read-only only: it never issues, changes or revokes.
 *
 * Checks per adapter: `health`, `list_locks` (the vendor answers with the property's locks), `get_lock` (one
 * of them reads back under its own reference) and `battery` where the vendor reports it. Results become
 * metrics per vendor and check: the share of the vendor's adapters that passed in the last run
 * (`lock_vendor_probe_up`), how long each check took, and failures by their normalized reason.
 *
 * One process probes for the cluster: the owner of partition 0 (partition leases already elect exactly one),
 * so a vendor's rate limit is not spent once per process. Adapters are listed across tenants through
 * `lock_configured_adapters` (SECURITY DEFINER, migration 0021: tenant, property and vendor only); adapters
 * that resolve to the same configuration (simulated mode: every property) are probed once.
 */
import { sql } from 'kysely';
import { DrainLoop } from '../actors/drainLoop.ts';
import type { Db } from '../io/db/index.ts';
import type { AdapterResolver } from '../io/vendors/adapterResolver.ts';
import { type LockAdapter, VendorError } from '../io/vendors/port.ts';

export const probeChecks = ['health', 'list_locks', 'get_lock', 'battery'] as const;
export type ProbeCheck = (typeof probeChecks)[number];

export type CheckResult = { check: ProbeCheck; ok: boolean; ms: number; failure?: string } | null;

export interface ProbeMetrics {
  /** A run is complete: the last run's values are replaced (a vendor no longer configured drops out). */
  reset(): void;
  up(vendor: string, check: ProbeCheck, share: number): void;
  seconds(vendor: string, check: ProbeCheck, s: number): void;
  failed(vendor: string, check: ProbeCheck, failure: string): void;
  /** A run completed at `at`, having probed `adapters` distinct adapters (0: nothing configured, or unlisted). */
  ran(at: Date, adapters: number): void;
}

export interface VendorProbeOptions {
  dispatcherDb: Db;
  adapters: AdapterResolver;
  /** True while this process should probe (it owns partition 0). */
  elected: () => boolean;
  metrics: ProbeMetrics;
  everyMs: number;
  /** A check slower than this failed (TIMEOUT); the vendor call itself is left to its own timeout. */
  timeoutMs: number;
  /** Adapters probed at once (8): a run over hundreds of properties fits in its interval. */
  concurrency?: number;
  now: () => Date;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

/** The read-only checks of one adapter; `null` for a check its vendor does not offer. */
export async function probeAdapter(adapter: LockAdapter, timeoutMs: number): Promise<CheckResult[]> {
  const timed = async <T>(check: ProbeCheck, call: () => Promise<T>): Promise<[CheckResult, T | null]> => {
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const value = await Promise.race([
        call(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new VendorError('TIMEOUT', `${check} took too long`)), timeoutMs);
        }),
      ]);
      return [{ check, ok: true, ms: performance.now() - t0 }, value];
    } catch (e) {
      if (e instanceof VendorError && e.failure === 'NOT_SUPPORTED') return [null, null];
      const failure = e instanceof VendorError ? e.failure : 'INTERNAL';
      return [{ check, ok: false, ms: performance.now() - t0, failure }, null];
    } finally {
      clearTimeout(timer);
    }
  };
  const [health] = await timed('health', () => adapter.health());
  // No vendor cloud lists these doors (written at the desk): nothing to list or read back.
  if (adapter.capabilities().listsLocks === false) return [health];
  const [list, locks] = await timed('list_locks', async () => {
    const l = await adapter.listLocks();
    // A configured vendor that lists no lock at all has lost the property's locks (or our access to them).
    if (l.length === 0) throw new VendorError('NOT_FOUND', 'the vendor lists no locks');
    return l;
  });
  const first = locks?.[0];
  const [get] = first
    ? await timed('get_lock', async () => {
        const lock = await adapter.getLock(first.ref);
        if (lock.ref !== first.ref)
          throw new VendorError('INVALID', 'the lock read back under another reference');
      })
    : [null];
  const [battery] =
    first && adapter.capabilities().battery
      ? await timed('battery', () => adapter.getBattery(first.ref))
      : [null];
  return [health, list, get, battery];
}

export class VendorProbe {
  private readonly loop: DrainLoop;
  private stopped = false;

  constructor(private readonly o: VendorProbeOptions) {
    // One run per interval, not repeated until a run finds nothing.
    this.loop = new DrainLoop(() => this.runOnce().then(() => 0), {
      everyMs: o.everyMs,
      onError: (e) => o.log?.('vendor probe failed', { err: String(e) }),
    });
  }

  start(): void {
    this.stopped = false;
    this.loop.start();
  }

  /** Stops between adapters: a run in progress does not hold a shutdown for its remaining vendors. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.loop.stop();
  }

  /**
   * One run over every configured adapter (when elected); the number of distinct adapters probed. A run cut
   * short (stopped, or partition 0 moved to another process) records nothing: the new prober's run will.
   */
  async runOnce(): Promise<number> {
    if (!this.o.elected()) return 0;
    const { rows } = await sql<{ tenant_id: string; property_id: string; vendor: string }>`
      select tenant_id, property_id, vendor from lock_configured_adapters()`.execute(this.o.dispatcherDb);
    const seen = new Set<string>();
    const results: { vendor: string; checks: CheckResult[] }[] = [];
    let next = 0;
    let cut = false;
    const worker = async () => {
      while (next < rows.length) {
        if (this.stopped || !this.o.elected()) {
          cut = true;
          return;
        }
        const r = rows[next++] as (typeof rows)[number];
        try {
          const { adapter, key } = await this.o.adapters.resolve(r.tenant_id, r.property_id, r.vendor);
          if (seen.has(key)) continue;
          seen.add(key);
          results.push({ vendor: r.vendor, checks: await probeAdapter(adapter, this.o.timeoutMs) });
        } catch (e) {
          // A configuration that cannot even be built (a secret missing, egress refused) fails every check.
          const failure = e instanceof VendorError ? e.failure : 'CONFIG';
          results.push({
            vendor: r.vendor,
            checks: probeChecks.map((check) => ({ check, ok: false, ms: 0, failure })),
          });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? 8, rows.length) }, worker));
    if (cut) return 0;
    const byVendor = new Map<string, CheckResult[][]>();
    for (const { vendor, checks } of results) {
      const list = byVendor.get(vendor);
      if (list) list.push(checks);
      else byVendor.set(vendor, [checks]);
    }
    this.o.metrics.reset();
    for (const [vendor, perAdapter] of byVendor) {
      for (const check of probeChecks) {
        const ran = perAdapter
          .map((c) => c.find((x) => x?.check === check))
          .filter((x): x is NonNullable<CheckResult> => x !== undefined && x !== null);
        if (ran.length === 0) continue;
        this.o.metrics.up(vendor, check, ran.filter((x) => x.ok).length / ran.length);
        for (const x of ran) {
          this.o.metrics.seconds(vendor, check, x.ms / 1000);
          if (!x.ok) this.o.metrics.failed(vendor, check, x.failure ?? 'INTERNAL');
        }
      }
    }
    this.o.metrics.ran(this.o.now(), seen.size);
    return seen.size;
  }
}
