/**
 * Partition ownership through a JetStream KV bucket (NATS 2.9 has no server-side "one active puller").
 * A lease is a key `p.<n>`: `create` acquires it, `update` with the last revision renews it, bucket TTL
 * expires it when its owner dies. The acquiring `create` gives the fencing token: it is written to
 * `partition_fences` before the partition is consumed (only if it is newer than the one there), and every
 * commit checks it. The token is the bucket's creation time (seconds, high 32 bits) and the revision (low
 * 32 bits): a bucket recreated by an operator numbers revisions from 1 again, and its tokens must still be
 * newer than every token written before, or no partition would ever be consumed again. When the bucket is
 * gone, it is created again and leases are taken anew.
 * Members announce themselves under `m.<owner>` so each process takes a fair share.
 */
import type { KV } from '@nats-io/kv';
import { sql } from 'kysely';
import type { Db } from '../io/db/index.ts';

export interface PartitionLeasesOptions {
  /** Opens (creating if absent) the lease bucket: at start, and again when it is gone. */
  openBucket: () => Promise<KV>;
  runtimeDb: Db;
  owner: string;
  partitions: number;
  /** Lease lifetime: the bucket's TTL. Renewal runs at a third of it. */
  ttlMs: number;
  onAcquired(partition: number, fence: bigint): Promise<void>;
  /** Called when a lease is lost or released; must stop consuming the partition before it resolves. */
  onLost(partition: number): Promise<void>;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

interface Held {
  revision: number;
  fence: bigint;
}

/** The fencing token of a lease: the bucket's creation (seconds) above its revision. */
export function fenceOf(bucketCreated: string, revision: number): bigint {
  return (BigInt(Math.floor(Date.parse(bucketCreated) / 1000)) << 32n) | BigInt(revision);
}

export class PartitionLeases {
  private readonly held = new Map<number, Held>();
  /**
   * Partitions whose workers are stopping: surplus ones being given up, and lost ones. A worker's stop waits
   * for vendor calls made in its actors' turns; the ticks go on renewing every other lease meanwhile (and a
   * surplus one's own), so a slow stop costs no other lease. A surplus partition's key is deleted, in the tick
   * chain, once its worker has stopped; a lost one is not taken again before then.
   */
  private readonly releasing = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private stopped = false;
  private kv: KV | undefined;
  private bucketCreated = '';

  constructor(private readonly o: PartitionLeasesOptions) {}

  private async bucket(): Promise<KV> {
    if (!this.kv) {
      const kv = await this.o.openBucket();
      this.bucketCreated = (await kv.status()).streamInfo.created;
      this.kv = kv;
    }
    return this.kv;
  }

  owned(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  fenceOf(partition: number): bigint | undefined {
    return this.held.get(partition)?.fence;
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(
      () => {
        this.ticking = this.ticking
          .then(() => this.tick())
          .catch((e) => this.o.log?.('lease tick failed', { err: String(e) }));
      },
      Math.max(100, Math.floor(this.o.ttlMs / 3)),
    );
  }

  /** Stops renewing and releases every lease so another process can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking.catch(() => {});
    await Promise.all(this.releasing.values());
    await this.ticking.catch(() => {});
    for (const p of this.owned()) await this.release(p);
    await this.kv?.delete(this.memberKey()).catch(() => {});
  }

  private memberKey() {
    return `m.${this.o.owner}`;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let kv: KV;
    try {
      kv = await this.bucket();
      await kv.put(this.memberKey(), this.o.owner);
    } catch (e) {
      // The bucket is gone (or NATS is): every lease is lost; the next tick opens the bucket again.
      this.o.log?.('lease bucket unavailable', { err: String(e) });
      this.kv = undefined;
      for (const p of this.owned()) {
        this.held.delete(p);
        // One being released is stopping already.
        if (!this.releasing.has(p)) this.stopApart(p);
      }
      return;
    }
    for (const [p, h] of this.held) {
      try {
        h.revision = await kv.update(`p.${p}`, this.o.owner, h.revision);
      } catch (e) {
        this.o.log?.('lease lost', { partition: p, err: String(e) });
        this.held.delete(p);
        if (!this.releasing.has(p)) this.stopApart(p);
      }
    }
    const members = await this.memberCount(kv);
    const fair = Math.ceil(this.o.partitions / Math.max(1, members));
    const keeping = this.owned().filter((p) => !this.releasing.has(p));
    if (keeping.length > fair) {
      const extra = keeping.at(-1);
      if (extra !== undefined) this.stopApart(extra);
      return;
    }
    for (const p of this.candidates()) {
      if (this.held.size >= fair || this.stopped) break;
      await this.tryAcquire(kv, p);
    }
  }

  /** Not-held partitions, starting at an owner-specific offset so processes do not all race for p0. */
  private candidates(): number[] {
    const n = this.o.partitions;
    let h = 0;
    for (const ch of this.o.owner) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = (h + i) % n;
      // One still being released is not taken again until its old worker has stopped.
      if (!this.held.has(p) && !this.releasing.has(p)) out.push(p);
    }
    return out;
  }

  private async memberCount(kv: KV): Promise<number> {
    let n = 0;
    const it = await kv.keys('m.*');
    for await (const _ of it) n++;
    return n;
  }

  private async tryAcquire(kv: KV, p: number): Promise<void> {
    let revision: number;
    try {
      revision = await kv.create(`p.${p}`, this.o.owner);
    } catch {
      return; // held by someone else
    }
    const fence = fenceOf(this.bucketCreated, revision);
    const r = await sql<{ fence: string }>`
      insert into partition_fences (partition, fence, owner) values (${p}, ${String(fence)}, ${this.o.owner})
      on conflict (partition) do update set fence = excluded.fence, owner = excluded.owner, updated_at = now()
        where partition_fences.fence < excluded.fence
      returning fence
    `.execute(this.o.runtimeDb);
    if (r.rows.length === 0) {
      // Our view of the bucket is older than the fence stored (it was recreated, and this handle missed it):
      // give the key back, so this process is not counted as its owner, and read the bucket again next tick.
      this.o.log?.('fence is newer than our lease; not consuming', { partition: p, revision });
      await kv.delete(`p.${p}`, { previousSeq: revision }).catch(() => {});
      this.kv = undefined;
      return;
    }
    this.held.set(p, { revision, fence });
    try {
      await this.o.onAcquired(p, fence);
    } catch (e) {
      this.o.log?.('could not start partition', { partition: p, err: String(e) });
      await this.release(p);
    }
  }

  /**
   * Stops a partition's worker without holding the ticks (see `releasing`): a surplus one given up, or a lost
   * one. Once it has stopped, the key is deleted if it is still the lease this began with (none, for a lost one).
   */
  private stopApart(p: number): void {
    const mine = this.held.get(p);
    const done = this.o
      .onLost(p)
      .catch((e: unknown) =>
        this.o.log?.('could not stop a released partition', { partition: p, err: String(e) }),
      )
      .then(() => {
        // In the tick chain: no renewal of this key runs beside its deletion.
        this.ticking = this.ticking.then(async () => {
          this.releasing.delete(p);
          // Only the lease this release began with (lost meanwhile, it is not ours to delete).
          const h = this.held.get(p);
          if (!h || h !== mine) return;
          this.held.delete(p);
          await this.kv?.delete(`p.${p}`, { previousSeq: h.revision }).catch(() => {});
        });
        return this.ticking;
      });
    this.releasing.set(p, done);
  }

  private async release(p: number): Promise<void> {
    const h = this.held.get(p);
    this.held.delete(p);
    await this.o.onLost(p);
    if (h) await this.kv?.delete(`p.${p}`, { previousSeq: h.revision }).catch(() => {});
  }
}
