/**
 * The bulkhead's scheduling, held to its earlier, plainly written version (one global ready list, scanned on
 * every take): under any sequence of pushes, takes and completions, the per-vendor queues start the same jobs
 * in the same order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BulkheadJob, VendorBulkhead } from '../../src/actors/vendorBulkhead.ts';

interface Job extends BulkheadJob {
  id: number;
}

/** The scheduler as it was before the per-vendor queues (kept here as the model). */
class ReferenceBulkhead<J extends BulkheadJob> {
  private readonly waiting = new Map<string, J[]>();
  private readonly busyLocks = new Set<string>();
  private readonly activeByVendor = new Map<string, number>();
  /** Locks with waiting jobs and nothing in flight, in the order they became ready. */
  private ready: string[] = [];
  private queued = 0;

  constructor(private readonly perVendor: number) {}

  /** Jobs not yet started. */
  get size(): number {
    return this.queued;
  }

  push(job: J): void {
    const list = this.waiting.get(job.lockKey);
    if (!list) this.waiting.set(job.lockKey, [job]);
    else if (job.priority) {
      // After the priority jobs already waiting, before every ordinary one.
      const at = list.findIndex((j) => !j.priority);
      list.splice(at < 0 ? list.length : at, 0, job);
    } else list.push(job);
    this.queued++;
    if (this.busyLocks.has(job.lockKey)) return;
    if (!list) this.ready.push(job.lockKey);
    if (!job.priority) return;
    // The lock moves ahead of the locks with no priority job at their head.
    const i = this.ready.indexOf(job.lockKey);
    if (i >= 0) this.ready.splice(i, 1);
    const at = this.ready.findIndex((k) => !this.waiting.get(k)?.[0]?.priority);
    this.ready.splice(at < 0 ? this.ready.length : at, 0, job.lockKey);
  }

  /** The next job that may start now, marked in flight; undefined if none may. */
  take(): J | undefined {
    for (let i = 0; i < this.ready.length; i++) {
      const key = this.ready[i] as string;
      const job = this.waiting.get(key)?.[0];
      if (!job) continue;
      const active = this.activeByVendor.get(job.vendor) ?? 0;
      if (active >= this.perVendor) continue;
      this.ready.splice(i, 1);
      this.waiting.get(key)?.shift();
      this.queued--;
      this.busyLocks.add(key);
      this.activeByVendor.set(job.vendor, active + 1);
      return job;
    }
    return undefined;
  }

  /** A started job finished (either way): its lock and a vendor slot are free again. */
  done(job: J): void {
    this.busyLocks.delete(job.lockKey);
    this.activeByVendor.set(job.vendor, (this.activeByVendor.get(job.vendor) ?? 1) - 1);
    const list = this.waiting.get(job.lockKey);
    if (list && list.length > 0) {
      if (list[0]?.priority) {
        const at = this.ready.findIndex((k) => !this.waiting.get(k)?.[0]?.priority);
        this.ready.splice(at < 0 ? this.ready.length : at, 0, job.lockKey);
      } else this.ready.push(job.lockKey);
    } else this.waiting.delete(job.lockKey);
  }
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant('push' as const),
    vendor: fc.constantFrom('ttlock', 'salto-ks', '~messages'),
    lock: fc.integer({ min: 0, max: 5 }),
    priority: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('take' as const) }),
  fc.record({ kind: fc.constant('done' as const), pick: fc.nat() }),
);

describe('bulkhead model', () => {
  it('bulkhead: per-vendor ready queues start the same jobs in the same order as the global list', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(op, { maxLength: 120 }), (perVendor, ops) => {
        const real = new VendorBulkhead<Job>(perVendor);
        const model = new ReferenceBulkhead<Job>(perVendor);
        const running: Job[] = [];
        let id = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            const job: Job = {
              id: id++,
              vendor: o.vendor,
              lockKey: `${o.vendor}:${o.lock}`,
              ...(o.priority ? { priority: true } : {}),
            };
            real.push(job);
            model.push(job);
          } else if (o.kind === 'take') {
            const a = real.take();
            const b = model.take();
            expect(a?.id).toBe(b?.id);
            if (a) running.push(a);
          } else if (running.length > 0) {
            const [job] = running.splice(o.pick % running.length, 1);
            real.done(job as Job);
            model.done(job as Job);
          }
          expect(real.size).toBe(model.size);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
