/**
 * Admission of vendor calls: at most `perVendor` calls in flight per vendor, and one at a time per lock
 * (lock gateways run one operation at a time; TTLock answers -3003 "gateway busy" otherwise). Jobs of
 * one lock run in the order they came; locks take turns in the order they became ready. A priority job
 * (the revokes of a deactivated account) goes before its lock's ordinary jobs, and its lock before locks
 * with none: it waits only for calls already in flight.
 */
export interface BulkheadJob {
  vendor: string;
  /** Identifies the physical lock: tenant, vendor and the vendor's device reference. */
  lockKey: string;
  priority?: boolean;
}

export class VendorBulkhead<J extends BulkheadJob> {
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
