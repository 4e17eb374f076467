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

/** A lock with waiting jobs and nothing in flight; `seq` orders locks across vendors by when they became ready. */
interface ReadyLock {
  key: string;
  seq: number;
}

export class VendorBulkhead<J extends BulkheadJob> {
  private readonly waiting = new Map<string, J[]>();
  private readonly busyLocks = new Set<string>();
  private readonly activeByVendor = new Map<string, number>();
  /**
   * Ready locks per vendor, each queue in the order its locks became ready (priority ones first). Per vendor,
   * so that `take` looks at one head per vendor rather than past every lock of a vendor at its limit (that
   * scan was ~3% of the event-driven run's CPU with thousands of locks ready).
   */
  private readonly ready = new Map<string, ReadyLock[]>();
  private readySeq = 0;
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
    if (!list) {
      this.enqueueReady(job.vendor, job.lockKey, job.priority === true);
      return;
    }
    if (!job.priority) return;
    // The lock, ready already, moves ahead of the locks with no priority job at their head.
    const q = this.ready.get(job.vendor);
    const i = q?.findIndex((r) => r.key === job.lockKey) ?? -1;
    if (q && i >= 0) {
      const [r] = q.splice(i, 1);
      this.insertPriority(q, r as ReadyLock);
    }
  }

  /** The next job that may start now, marked in flight; undefined if none may. */
  take(): J | undefined {
    let best: { vendor: string; head: ReadyLock; priority: boolean } | undefined;
    for (const [vendor, q] of this.ready) {
      const head = q[0];
      if (!head || (this.activeByVendor.get(vendor) ?? 0) >= this.perVendor) continue;
      const priority = this.waiting.get(head.key)?.[0]?.priority === true;
      if (!best || (priority && !best.priority) || (priority === best.priority && head.seq < best.head.seq))
        best = { vendor, head, priority };
    }
    if (!best) return undefined;
    this.ready.get(best.vendor)?.shift();
    const job = this.waiting.get(best.head.key)?.shift();
    if (!job) return this.take();
    this.queued--;
    this.busyLocks.add(best.head.key);
    this.activeByVendor.set(best.vendor, (this.activeByVendor.get(best.vendor) ?? 0) + 1);
    return job;
  }

  /** A started job finished (either way): its lock and a vendor slot are free again. */
  done(job: J): void {
    this.busyLocks.delete(job.lockKey);
    this.activeByVendor.set(job.vendor, (this.activeByVendor.get(job.vendor) ?? 1) - 1);
    const list = this.waiting.get(job.lockKey);
    if (list && list.length > 0) this.enqueueReady(job.vendor, job.lockKey, list[0]?.priority === true);
    else this.waiting.delete(job.lockKey);
  }

  private enqueueReady(vendor: string, key: string, priority: boolean): void {
    let q = this.ready.get(vendor);
    if (!q) this.ready.set(vendor, (q = []));
    const r = { key, seq: this.readySeq++ };
    if (priority) this.insertPriority(q, r);
    else q.push(r);
  }

  /**
   * Before the first lock whose head job is ordinary (after the priority ones already there); among priority
   * locks, of every vendor, in the order they became so.
   */
  private insertPriority(q: ReadyLock[], r: ReadyLock): void {
    r.seq = this.readySeq++;
    const at = q.findIndex((x) => !this.waiting.get(x.key)?.[0]?.priority);
    q.splice(at < 0 ? q.length : at, 0, r);
  }
}
