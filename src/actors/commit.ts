/**
 * Turns one transition into one `ActorCommit`: the rows a single transaction writes. Pure: ids are derived
 * from (actor, version, index), so recomputing the same transition after a crash gives the same rows.
 */
import type { AnyMachineSnapshot } from 'xstate';
import { assertPublishedEvent } from '../contracts/strictEvents.ts';
import { uuidV5 } from '../ids.ts';
import {
  type DomainEventIntent,
  type EffectIntent,
  persistedSnapshot,
  type TimerIntent,
} from '../machines/index.ts';
import type { ActorKind, ReadModelRow } from './actorKinds.ts';
import type { ActorType } from './partitioning.ts';

export interface OutboxRow {
  eventId: string;
  subject: string;
  payload: Record<string, unknown>;
}

export interface IntentRow {
  id: string;
  operationId: string;
  intent: EffectIntent;
}

/** What a message releases when its transition commits: its effect intent row, its timer row. */
export interface Consumed {
  intentId?: string;
  timer?: { key: string; dueAt: string };
}

export interface ActorCommit {
  tenantId: string;
  actorType: ActorType;
  actorId: string;
  partition: number;
  fence: bigint;
  /** 0 for an actor's first commit. */
  expectedVersion: number;
  version: number;
  lastSeq: number;
  /** The inbox stream `lastSeq` counts in. */
  epoch: string;
  /** The message this transition applies (its `Nats-Msg-Id`). */
  msgId: string;
  /** Released in the same transaction: the intent this message answers, the timer it delivers. */
  consumedIntents: string[];
  consumedTimer: { key: string; dueAt: string } | null;
  machineVersion: number;
  snapshot: string;
  readModel: ReadModelRow | null;
  outbox: OutboxRow[];
  /** The transition's audit entry; several, in order, for transitions merged into one commit. */
  audit: string | string[];
  /** Net timer changes, in order: null cancels the key. */
  timers: Map<string, TimerIntent | null>;
  intents: IntentRow[];
  /**
   * The W3C `traceparent` of the span that applied the message, kept with the commit's outbox rows and
   * effect intents so the hops after the commit (the relay, the effect runner, a sweeper) join its trace.
   */
  trace?: string;
  /**
   * Delivered in process (no stream sequence to tell a repeat): refused, writing nothing, when the intent or
   * timer it releases is gone — the message was applied already.
   */
  once?: true;
}

export interface TransitionAction {
  type: string;
  params?: unknown;
}

export interface CommitInput {
  kind: ActorKind;
  tenantId: string;
  actorId: string;
  partition: number;
  fence: bigint;
  previous: AnyMachineSnapshot;
  next: AnyMachineSnapshot;
  previousVersion: number;
  seq: number;
  epoch: string;
  consumed: Consumed;
  msgId: string;
  /** Who caused the message (the envelope's `by`); the service itself when absent. */
  by?: string;
  event: { type: string; at?: string };
  actions: readonly TransitionAction[];
  eventsRoot: string;
  now: Date;
}

export function buildCommit(i: CommitInput): ActorCommit {
  const version = i.previousVersion + 1;
  const at = i.event.at ?? i.now.toISOString();
  const outbox: OutboxRow[] = [];
  const timers = new Map<string, TimerIntent | null>();
  const intents: IntentRow[] = [];
  const propertyId = i.kind.propertyId(i.next);
  let n = 0;
  for (const a of i.actions) {
    n++;
    switch (a.type) {
      case 'publishEvent': {
        const p = a.params as DomainEventIntent;
        const eventId = uuidV5(`event:${i.kind.type}:${i.actorId}:${version}:${n}`);
        const row: OutboxRow = {
          eventId,
          subject: `${i.eventsRoot}.${p.aggregate ?? i.kind.aggregate}.${p.verb}.v1`,
          payload: {
            eventId,
            occurredAt: at,
            tenantId: i.tenantId,
            propertyId,
            aggregateId: i.actorId,
            version,
            data: { status: i.kind.status(i.next), ...(p.data ?? {}) },
          },
        };
        // Under LOCK_STRICT_EVENTS=1 (the tests) an event off its schema (src/contracts) throws; else a no-op.
        assertPublishedEvent(row.subject, row.payload);
        outbox.push(row);
        break;
      }
      case 'scheduleTimer': {
        const t = a.params as TimerIntent;
        timers.set(t.key, t);
        break;
      }
      case 'cancelTimer':
        timers.set((a.params as { key: string }).key, null);
        break;
      case 'callVendor':
      case 'sendMessage': {
        const intent = a.params as EffectIntent;
        intents.push({
          id: `${i.kind.type}:${i.actorId}:${version}:${n}`,
          operationId: intent.operationId,
          intent,
        });
        break;
      }
      default:
        // xstate's own actions (assign, raise) are already applied in `next`.
        break;
    }
  }
  const audit = JSON.stringify({
    at,
    actor: `${i.kind.type}/${i.actorId}`,
    version,
    msgId: i.msgId,
    by: i.by ?? 'service',
    event: i.event.type,
    detail: i.kind.auditDetail?.(i.event),
    from: i.previous.value,
    to: i.next.value,
    status: i.kind.status(i.next),
  });
  return {
    tenantId: i.tenantId,
    actorType: i.kind.type,
    actorId: i.actorId,
    partition: i.partition,
    fence: i.fence,
    expectedVersion: i.previousVersion,
    version,
    lastSeq: i.seq,
    epoch: i.epoch,
    msgId: i.msgId,
    consumedIntents: i.consumed.intentId ? [i.consumed.intentId] : [],
    consumedTimer: i.consumed.timer ?? null,
    machineVersion: i.kind.machineVersion,
    snapshot: JSON.stringify(persistedSnapshot(i.kind.machine, i.next)),
    readModel: i.kind.project(i.next, version),
    outbox,
    audit,
    timers,
    intents,
  };
}

/**
 * One commit for a transition and those that applied the answers of the vendor calls it ran in the actor's
 * turn (`inTurn`: those intents' ids), in order: the first's expected version, message and releases, the
 * last's snapshot and read model, every transition's events, audit entries and timers. The intents run in
 * the turn are neither written nor released: they never had a row.
 */
export function mergeTransitions(steps: readonly ActorCommit[], inTurn: ReadonlySet<string>): ActorCommit {
  const first = steps[0];
  const last = steps.at(-1);
  if (!first || !last) throw new Error('no transition to merge');
  const timers = new Map<string, TimerIntent | null>();
  for (const s of steps) for (const [k, t] of s.timers) timers.set(k, t);
  return {
    ...first,
    version: last.version,
    machineVersion: last.machineVersion,
    snapshot: last.snapshot,
    readModel: last.readModel,
    outbox: steps.flatMap((s) => s.outbox),
    audit: steps.flatMap((s) => s.audit),
    timers,
    intents: steps.flatMap((s) => s.intents).filter((i) => !inTurn.has(i.id)),
  };
}
