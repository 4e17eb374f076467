/**
 * Virtual actors: activated on their first message (snapshot from PostgreSQL, or the machine's initial
 * state), kept resident while in use, passivated when idle or when memory is needed. The host applies one
 * message at a time per actor; its caller (a partition worker) guarantees that order.
 */
import type { AnyMachineSnapshot } from 'xstate';
import { ensureError, LockError } from '../errors.ts';
import type { Clock } from '../ids.ts';
import { type Db } from '../io/db/index.ts';
import { initialStep, step } from '../machines/index.ts';
import { type ActorKind, actorKinds, createsActor } from './actorKinds.ts';
import { type ActorCommit, buildCommit, type Consumed, type TransitionAction } from './commit.ts';
import type { ActorEnvelope } from './envelope.ts';
import { eventProblem } from './eventSchemas.ts';
import type { ActorAddress } from './partitioning.ts';
import { SnapshotLoader } from './snapshotLoader.ts';

export interface Resident {
  tenantId: string;
  snapshot: AnyMachineSnapshot;
  version: number;
  lastSeq: number;
  /** The inbox stream `lastSeq` counts in (null: written before it was kept, taken as the current one). */
  epoch: string | null;
  lastUsed: number;
}

export type ApplyOutcome =
  | {
      kind: 'commit';
      commit: ActorCommit;
      snapshot: AnyMachineSnapshot;
      status: string;
      /** What the commit applied, for inspection: the event, the intent it answered, the snapshot before. */
      event: ActorEnvelope['event'];
      intentId?: string;
      previous: AnyMachineSnapshot;
      /**
       * The transitions merged into `commit`, in order, when the vendor calls the first asked for ran in the
       * actor's turn and the others applied their answers (each as it was decided, for inspection).
       */
      steps?: readonly CommitDecision[];
      /** The vendor calls left for after the commit may have run before: they look up before they create. */
      again?: boolean;
    }
  | { kind: 'duplicate' }
  /** The machine ignores the message; what it carried (an intent's answer, a timer) is released all the same. */
  | { kind: 'unchanged'; consumed: Consumed }
  | { kind: 'rejected'; code: string; reason: string };

/** A decided transition: what its commit writes and what the actor is after it. */
export type CommitDecision = Extract<ApplyOutcome, { kind: 'commit' }>;

export interface ActorHostOptions {
  runtimeDb: Db;
  clock: Clock;
  eventsRoot: string;
  /** Upper bound of resident actors; the least recently used are passivated beyond it. */
  maxResident?: number;
  /** Passivate after every message: the runtime suites run once this way to prove activation is lossless. */
  passivateEachMessage?: boolean;
  onActivation?: (ms: number, found: boolean) => void;
}

export class ActorHost {
  private readonly resident = new Map<string, Resident>();
  private readonly maxResident: number;
  private readonly loader: SnapshotLoader;

  constructor(private readonly opts: ActorHostOptions) {
    this.maxResident = opts.maxResident ?? 200_000;
    this.loader = new SnapshotLoader(opts.runtimeDb);
  }

  get residentCount(): number {
    return this.resident.size;
  }

  /**
   * Decides a message: the commit to write, or why nothing is written. Never writes itself. A message of a
   * type or shape the actor's kind does not take is rejected before anything is loaded. A message is a
   * duplicate when the actor has applied its sequence number in the same inbox stream (`epoch`): a
   * recreated stream numbers from 1 again.
   *
   * `seq` null: the message was handed over in this process, not read from the inbox stream (its sender keeps
   * it in PostgreSQL until this actor's commit releases it). It has no place in the stream to compare, and
   * the commit keeps the actor's stream position as it was; a repeat of it is recognized by the actor's state,
   * as for any message sent again.
   */
  async decide(
    address: ActorAddress & { partition: number },
    envelope: ActorEnvelope,
    seq: number | null,
    msgId: string,
    fence: bigint,
    epoch: string,
    /** Decided again after a failure (a version conflict, say): the actor is read, never assumed new. */
    again = false,
  ): Promise<ApplyOutcome> {
    const kind = actorKinds[address.type];
    const problem = eventProblem(address.type, envelope.event);
    if (problem) return { kind: 'rejected', code: 'LOCK.REJECTED_MESSAGE', reason: problem };
    const assumed = !again && createsActor(address.type, envelope.event.type);
    const actor = await this.activate(kind, address, envelope.tenantId, assumed);
    if (actor.tenantId !== envelope.tenantId) {
      return { kind: 'rejected', code: 'LOCK.FORBIDDEN', reason: 'message tenant does not own this actor' };
    }
    if (seq !== null && (actor.epoch ?? epoch) === epoch && seq <= actor.lastSeq)
      return { kind: 'duplicate' };
    const decided = this.transit(kind, address, actor, envelope, seq, msgId, fence, epoch);
    // A guess that decides nothing (or cannot be decided) is not trusted: the actor is read and the message
    // decided on what it is.
    if (assumed && (decided.kind === 'unchanged' || decided.kind === 'rejected'))
      return this.redecide(address, envelope, seq, msgId, fence, epoch);
    return decided;
  }

  /**
   * Decides a message on top of a transition decided and not committed yet: the answer of a vendor call that
   * transition ran in the actor's turn. Never writes, never reads: the commits are merged and written together.
   */
  decideNext(
    address: ActorAddress & { partition: number },
    after: CommitDecision,
    envelope: ActorEnvelope,
    msgId: string,
    fence: bigint,
  ): ApplyOutcome {
    const kind = actorKinds[address.type];
    const problem = eventProblem(address.type, envelope.event);
    if (problem) return { kind: 'rejected', code: 'LOCK.REJECTED_MESSAGE', reason: problem };
    const c = after.commit;
    const actor: Resident = {
      tenantId: c.tenantId,
      snapshot: after.snapshot,
      version: c.version,
      lastSeq: c.lastSeq,
      epoch: c.epoch,
      lastUsed: 0,
    };
    return this.transit(kind, address, actor, envelope, null, msgId, fence, c.epoch);
  }

  /** The pure part of deciding: the transition of `actor` on the message, as a commit or why there is none. */
  private transit(
    kind: ActorKind,
    address: ActorAddress & { partition: number },
    actor: Resident,
    envelope: ActorEnvelope,
    seq: number | null,
    msgId: string,
    fence: bigint,
    epoch: string,
  ): ApplyOutcome {
    const consumed: Consumed = {
      ...(envelope.intentId ? { intentId: envelope.intentId } : {}),
      ...(envelope.timer ? { timer: envelope.timer } : {}),
    };
    let next: AnyMachineSnapshot;
    let actions: readonly TransitionAction[];
    // A message sent again says so to its machine, where that matters: what a turn of it that ended without a
    // commit may have made at a vendor (a credential's issue).
    const event = envelope.again && kind.sentAgain ? kind.sentAgain(envelope.event) : envelope.event;
    try {
      [next, actions] = step(kind.machine, actor.snapshot, event);
    } catch (e) {
      return { kind: 'rejected', code: 'LOCK.REJECTED_MESSAGE', reason: ensureError(e).message };
    }
    if (next === actor.snapshot && actions.length === 0) return { kind: 'unchanged', consumed };
    const commit = buildCommit({
      kind,
      tenantId: actor.tenantId,
      actorId: address.id,
      partition: address.partition,
      fence,
      previous: actor.snapshot,
      next,
      previousVersion: actor.version,
      seq: seq ?? actor.lastSeq,
      // In process: the stream position stays the one the actor last read (its stream's, whatever that was).
      epoch: seq === null ? (actor.epoch ?? epoch) : epoch,
      consumed,
      msgId,
      ...(envelope.by !== undefined ? { by: envelope.by } : {}),
      event: envelope.event,
      actions,
      eventsRoot: this.opts.eventsRoot,
      now: this.opts.clock.now(),
    });
    return {
      kind: 'commit',
      commit,
      snapshot: next,
      status: kind.status(next),
      event: envelope.event,
      ...(envelope.intentId ? { intentId: envelope.intentId } : {}),
      previous: actor.snapshot,
    };
  }

  /** After a guess that did not lead to a commit: the guessed actor is dropped and the message decided again. */
  private redecide(
    address: ActorAddress & { partition: number },
    envelope: ActorEnvelope,
    seq: number | null,
    msgId: string,
    fence: bigint,
    epoch: string,
  ): Promise<ApplyOutcome> {
    this.evict(address);
    return this.decide(address, envelope, seq, msgId, fence, epoch, true);
  }

  /** Records a durable commit in the resident copy. */
  committed(address: ActorAddress, commit: ActorCommit, snapshot: AnyMachineSnapshot): void {
    const key = `${address.type}:${address.id}`;
    const r = this.resident.get(key);
    if (!r) return;
    r.snapshot = snapshot;
    r.version = commit.version;
    r.lastSeq = commit.lastSeq;
    r.epoch = commit.epoch;
    if (this.opts.passivateEachMessage || actorKinds[address.type].passivateAfterCommit)
      this.resident.delete(key);
  }

  /** Drops the resident copy (after a conflict, or when the partition moves elsewhere). */
  evict(address: ActorAddress): void {
    this.resident.delete(`${address.type}:${address.id}`);
  }

  /** Drops every resident actor of a partition that this process no longer owns. */
  evictWhere(predicate: (type: string, id: string) => boolean): void {
    for (const key of this.resident.keys()) {
      const [type, id] = key.split(':') as [string, string];
      if (predicate(type, id)) this.resident.delete(key);
    }
  }

  /** Passivates actors idle for longer than `idleMs`. */
  passivateIdle(idleMs: number): number {
    const cutoff = Date.now() - idleMs;
    let n = 0;
    for (const [key, r] of this.resident) {
      if (r.lastUsed < cutoff) {
        this.resident.delete(key);
        n++;
      }
    }
    return n;
  }

  /**
   * Makes an actor resident (from its snapshot, or initial); `decide` calls it, the benchmark measures it.
   * `assumeNew`: not read, initial (its kind's creating event; a wrong guess is a version conflict at commit,
   * after which the actor is evicted and read).
   */
  async activate(
    kind: ActorKind,
    address: ActorAddress,
    tenantId: string,
    assumeNew = false,
  ): Promise<Resident> {
    const key = `${address.type}:${address.id}`;
    const found = this.resident.get(key);
    if (found) {
      // Re-insert: Map order is the LRU order.
      this.resident.delete(key);
      found.lastUsed = Date.now();
      this.resident.set(key, found);
      return found;
    }
    const started = performance.now();
    const row = assumeNew ? undefined : await this.loader.load(tenantId, address.type, address.id);
    let r: Resident;
    // Written by newer code (a rolling upgrade under way, or a rollback): this process cannot read it, and must
    // not decide on a guess. An outage, retried until a process of that code owns the partition — a message
    // rejected here could be a revoke.
    if (row && row.machineVersion > kind.machineVersion)
      throw new LockError(
        'LOCK.UNAVAILABLE',
        `${address.type} ${address.id} was written at machine version ${row.machineVersion}; this process runs ${kind.machineVersion}`,
      );
    if (row) {
      r = {
        tenantId: row.tenantId,
        snapshot: kind.machine.resolveState(
          upgraded(kind, row.snapshot, row.machineVersion) as Parameters<typeof kind.machine.resolveState>[0],
        ),
        version: row.version,
        lastSeq: row.lastSeq,
        epoch: row.epoch,
        lastUsed: Date.now(),
      };
    } else {
      const [initial] = initialStep(kind.machine, { id: address.id, tenantId });
      r = { tenantId, snapshot: initial, version: 0, lastSeq: 0, epoch: null, lastUsed: Date.now() };
    }
    if (!assumeNew) this.opts.onActivation?.(performance.now() - started, row !== undefined);
    this.resident.set(key, r);
    while (this.resident.size > this.maxResident) {
      const oldest = this.resident.keys().next().value;
      if (oldest === undefined) break;
      this.resident.delete(oldest);
    }
    return r;
  }
}

/** A snapshot of an earlier machine version, upgraded step by step; throws when no upgrade exists. */
function upgraded(kind: ActorKind, snapshot: unknown, from: number): unknown {
  let s = snapshot;
  for (let v = from; v < kind.machineVersion; v++) {
    const up = kind.upgrades?.[v];
    if (!up) throw new Error(`no upgrade of ${kind.type} snapshots from machine version ${v}`);
    s = up(s);
  }
  return s;
}

export function rejectedError(code: string, reason: string): LockError {
  return new LockError(code === 'LOCK.FORBIDDEN' ? 'LOCK.FORBIDDEN' : 'LOCK.REJECTED_MESSAGE', reason);
}
