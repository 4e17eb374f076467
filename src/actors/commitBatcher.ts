/**
 * Group commit: transitions of many actors, from any partition, written in one PostgreSQL transaction
 * with multi-row statements. Each actor keeps its own optimistic version check and each partition its
 * fencing token; an actor that fails either check is refused alone and the rest commit. The whole batch is
 * one statement: see migrations/2026-11-22T0002_one_round_trip_paths.ts.
 */
import { sql } from 'kysely';
import { LockError } from '../errors.ts';
import type { Db } from '../io/db/index.ts';
import type { ActorCommit } from './commit.ts';

interface Pending {
  commit: ActorCommit;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface CommitBatcherOptions {
  maxBatch?: number;
  /** How long the committing process holds a new effect intent before the sweeper may run it (30 s). */
  effectClaimMs?: number;
  onBatch?: (size: number, ms: number) => void;
}

export interface CommitBatcher {
  /** Resolves once the commit is durable; rejects with LOCK.FENCED, LOCK.VERSION_CONFLICT or a DB error. */
  commit(c: ActorCommit): Promise<void>;
  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void>;
}

const keyOf = (c: ActorCommit) => `${c.actorType}:${c.actorId}`;

export function createCommitBatcher(db: Db, opts: CommitBatcherOptions = {}): CommitBatcher {
  const maxBatch = opts.maxBatch ?? 256;
  let queue: Pending[] = [];
  let running = false;
  let idleWaiters: (() => void)[] = [];

  async function pump(): Promise<void> {
    if (running) return;
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        const started = performance.now();
        await writeBatch(db, batch, opts.effectClaimMs ?? 30_000);
        opts.onBatch?.(batch.length, performance.now() - started);
      }
    } finally {
      running = false;
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  }

  return {
    commit(commit) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ commit, resolve, reject });
        void pump();
      });
    },
    idle() {
      if (!running && queue.length === 0) return Promise.resolve();
      return new Promise((r) => idleWaiters.push(r));
    },
  };
}

/**
 * Writes a batch in one round trip (`lock_commit_batch`, migration 0002): refused members are rejected
 * with their reason and wrote nothing; the rest are durable. If the statement itself fails (a constraint,
 * say), one bad member must not sink the others: they are written one by one.
 */
async function writeBatch(db: Db, batch: Pending[], claimMs: number): Promise<void> {
  let refused: { member: number; refused: string }[];
  try {
    const r = await sql<{ member: number; refused: string }>`
      select member, refused from lock_commit_batch(${batchJson(batch, claimMs)}::jsonb)
    `.execute(db);
    refused = r.rows;
  } catch (e) {
    if (batch.length === 1) {
      batch[0]!.reject(e);
      return;
    }
    for (const m of batch) await writeBatch(db, [m], claimMs);
    return;
  }
  const reasons = new Map(refused.map((r) => [r.member, r.refused]));
  batch.forEach((m, i) => {
    const reason = reasons.get(i);
    if (reason === undefined) m.resolve();
    else m.reject(refusal(reason, m.commit));
  });
}

/** A commit refused because the message it applies was applied already (its intent or timer row is gone). */
export class AlreadyApplied extends Error {}

function refusal(reason: string, c: ActorCommit): Error {
  if (reason === 'LOCK.ALREADY_APPLIED') return new AlreadyApplied(`${keyOf(c)} applied ${c.msgId} already`);
  return reason === 'LOCK.FENCED'
    ? new LockError('LOCK.FENCED', `partition ${c.partition} is no longer fenced at ${c.fence}`)
    : new LockError('LOCK.VERSION_CONFLICT', `${keyOf(c)} is not at version ${c.expectedVersion}`);
}

/** The batch as the function reads it; snapshots are spliced in as the JSON text they already are. */
function batchJson(batch: Pending[], claimMs: number): string {
  const parts = batch.map(({ commit: c }, i) => {
    const cancelTimers: string[] = [];
    const timers: { key: string; dueAt: string; event: unknown }[] = [];
    for (const [key, t] of c.timers) {
      if (t === null) cancelTimers.push(key);
      else timers.push({ key, dueAt: t.dueAt, event: t.event });
    }
    const member = JSON.stringify({
      i,
      tenant: c.tenantId,
      partition: c.partition,
      fence: String(c.fence),
      type: c.actorType,
      id: c.actorId,
      expected: c.expectedVersion,
      version: c.version,
      lastSeq: c.lastSeq,
      epoch: c.epoch,
      consumedIntents: c.consumedIntents,
      consumedTimer: c.consumedTimer,
      mv: c.machineVersion,
      rm: c.readModel,
      outbox: c.outbox,
      audit: c.audit,
      cancelTimers,
      timers,
      intents: c.intents,
      claimMs,
      ...(c.trace ? { trace: c.trace } : {}),
      ...(c.once ? { once: true } : {}),
    });
    return `${member.slice(0, -1)},"snapshot":${c.snapshot}}`;
  });
  return `[${parts.join(',')}]`;
}
