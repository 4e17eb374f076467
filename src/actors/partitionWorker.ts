/**
 * Consumes one partition's inbox. Per message: decide (pure transition) → commit (group-committed
 * transaction) → ack → effects. Order is per actor: each actor's messages run one after another in
 * stream order, while different actors of the partition proceed concurrently (up to `maxInFlight`
 * unacked messages), so one group commit carries many actors' transitions.
 *
 * The consumer belongs to one ownership term: it is named after the partition's fencing token and, on
 * acquiring the partition, the new owner deletes the previous term's consumer and starts a new one from
 * the oldest message still in the (work-queue) stream. So a message the previous owner took but never
 * acknowledged is delivered again before anything later, and the previous owner, if it is still alive,
 * receives nothing more; whatever it still tries to commit is refused by the fence.
 *
 * If the stream or the consumer disappears (an operator recreated `LOCK_ACTORS`), consumption stops and is
 * opened again once the stream is back, with the new stream's identity (`epoch`): sequence numbers restart
 * there, and an actor compares them only within one stream.
 *
 * A message that keeps failing for a reason of its own (a snapshot that cannot be read, a persistent
 * conflict) is rejected after `maxTries` with the reason, recorded in `rejected_messages`, and acknowledged,
 * so it stops holding up its actor and dragging group commits into one-by-one writes. An outage of
 * PostgreSQL or NATS is not the message's fault: those are retried until they pass.
 */
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { type Context, SpanKind } from '@opentelemetry/api';
import type { ExpressionBuilder } from 'kysely';
import { ensureError, isLockError, LockError } from '../errors.ts';
import { type Database, type Db, withTenant } from '../io/db/index.ts';
import type { Topology } from '../io/nats/index.ts';
import { contextFromHeaders, inSpan, traceparentOf } from '../observability/tracing.ts';
import type { EffectIntent, EffectOutcomeEvent, VendorIntent } from '../machines/index.ts';
import type { ActorHost, ApplyOutcome, CommitDecision } from './actorHost.ts';
import { createsActor } from './actorKinds.ts';
import { NOT_MADE, type TurnJob } from './effectRunner.ts';
import { mergeTransitions } from './commit.ts';
import type { Consumed } from './commit.ts';
import { AlreadyApplied, type CommitBatcher } from './commitBatcher.ts';
import { type ActorEnvelope, parseEnvelope } from './envelope.ts';
import { type ActorAddress, parseActorSubject } from './partitioning.ts';

export interface PartitionWorkerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  host: ActorHost;
  batcher: CommitBatcher;
  runtimeDb: Db;
  ackWaitMs: number;
  /** Unacknowledged messages in flight for this partition (default 256). */
  maxInFlight?: number;
  /** Tries of a message failing for a reason of its own before it is rejected (default 6). */
  maxTries?: number;
  onCommitted(address: ActorAddress, outcome: CommitDecision): void;
  /** Runs vendor calls in the actor's turn (the effect runner); absent: every call runs after its commit. */
  callsInTurn?: CallsInTurn;
  onRejected?(code: string): void;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

/** Vendor calls run in an actor's turn, before the transition that asked for them is committed. */
export interface CallsInTurn {
  /**
   * Whether the intent may run in the turn of the message `sender` (its intent id) handed over: its kind and
   * vendor, and the sender's claim on the message leaving the call time to finish before it lapses.
   */
  eligible(intent: EffectIntent, sender: string): boolean;
  /** Runs it; its answer as the message the actor applies (a failure too: never rejects). */
  run(job: TurnJob): Promise<EffectOutcomeEvent>;
}

/**
 * One message to apply: read from the inbox stream, or handed over in this process (`seq` null; its sender
 * holds it in PostgreSQL until the commit releases it). `ack` and `term` say it is done with.
 */
interface Delivery {
  data: Uint8Array | ActorEnvelope;
  seq: number | null;
  msgId: string;
  subject?: string;
  ack(): void;
  term(): void;
  /** Vendor calls ran in a turn of this message: if it ends without a commit, a resend must say `again`. */
  ranInTurn?: boolean;
  /** What those calls made, named in a rejection's reason: what is then at the vendor and nowhere else. */
  turnCalls?: readonly TurnCall[];
}

/** A vendor call run in a turn, as a rejection names it (no secret: operation, vendor, lock, vendor's id). */
interface TurnCall {
  operationId: string;
  vendor: string;
  lock: string;
  answer: string;
}

/**
 * A rejection's reason, naming first (the reason is cut to a length) the vendor calls the message's turn ran:
 * what may be at the vendor and nowhere else, an operator's to revoke or adopt.
 */
function withTurnCalls(reason: string, m: Delivery): string {
  if (!m.turnCalls?.length) return reason;
  const calls = m.turnCalls.map((c) => `${c.operationId} at ${c.vendor} lock ${c.lock}: ${c.answer}`);
  return `vendor calls ran in its turn: ${calls.join('; ')}; ${reason}`;
}

const MAX_DB_BACKOFF_MS = 5000;
/**
 * How often a running consumer is checked against the stream: a consumer whose stream was deleted does not
 * always end its message iterator (no pull was outstanding to be told), and would wait for ever.
 */
const CONSUMER_CHECK_MS = 2000;

export class PartitionWorker {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Aborted by `stop`: calls queued in this worker's turns are answered without being made. */
  private readonly stopped = new AbortController();
  private epoch = '';
  /** The tail of each busy actor's queue: the next message for it runs after this settles. */
  private readonly actorTails = new Map<string, Promise<void>>();
  private wake: (() => void) | undefined;

  constructor(
    readonly partition: number,
    readonly fence: bigint,
    private readonly d: PartitionWorkerDeps,
  ) {}

  private get consumerName(): string {
    return `${this.d.topology.partitionConsumer(this.partition)}-f${this.fence}`;
  }

  /** Opens the partition's consumer (a failure here gives the partition back); then supervises it. */
  async start(): Promise<void> {
    this.messages = await this.open();
    this.loop = this.supervise(this.messages);
  }

  /** Stops taking messages; those in hand finish (commit + ack) or are left for redelivery. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    this.wake?.();
    await this.messages?.close().catch(() => {});
    await this.loop.catch(() => {});
    await Promise.all(this.actorTails.values());
  }

  private async open(): Promise<ConsumerMessages> {
    const t = this.d.topology;
    const base = t.partitionConsumer(this.partition);
    const name = this.consumerName;
    // Opened again (the stream or the consumer went away): only while this term still holds the partition. A
    // process that was paused past its lease must not take the partition back from its new owner.
    if (this.epoch !== '' && !(await this.stillFenced())) {
      this.stopping = true;
      throw new LockError('LOCK.FENCED', `partition ${this.partition} is no longer fenced at ${this.fence}`);
    }
    for await (const c of this.d.jsm.consumers.list(t.actorsStream)) {
      const n = c.config.durable_name ?? c.name;
      // Only earlier terms' consumers: a later one belongs to the partition's new owner.
      const term = /^\d+$/.test(n.slice(base.length + 2)) ? BigInt(n.slice(base.length + 2)) : null;
      const earlier = n === base || (n.startsWith(`${base}-f`) && term !== null && term < this.fence);
      if (earlier && n !== name) await this.d.jsm.consumers.delete(t.actorsStream, n).catch(() => {});
    }
    try {
      await this.d.jsm.consumers.info(t.actorsStream, name);
    } catch {
      await this.d.jsm.consumers.add(t.actorsStream, {
        durable_name: name,
        filter_subject: `${t.actorRoot}.${this.partition}.>`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: this.d.maxInFlight ?? 256,
        ack_wait: this.d.ackWaitMs * 1_000_000,
      });
    }
    this.epoch = (await this.d.jsm.streams.info(t.actorsStream)).created;
    const consumer = await this.d.js.consumers.get(t.actorsStream, name);
    // Without abort, a deleted consumer is waited for forever; nobody would ever recreate it.
    return consumer.consume({ max_messages: this.d.maxInFlight ?? 256, abort_on_missing_resource: true });
  }

  /** Runs the consumer; when it ends without a stop (its stream or consumer is gone), opens it again. */
  private async supervise(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    for (let attempt = 0; !this.stopping;) {
      if (messages) {
        const watch = this.watchConsumer(messages);
        try {
          await this.run(messages);
        } catch (e) {
          this.d.log?.('partition consumer ended', {
            partition: this.partition,
            err: ensureError(e).message,
          });
        } finally {
          clearInterval(watch);
        }
        messages = undefined;
        if (this.stopping) break;
      }
      await this.pause(Math.min(MAX_DB_BACKOFF_MS, 200 * 2 ** attempt));
      if (this.stopping) break;
      try {
        messages = await this.open();
        this.messages = messages;
        this.d.log?.('partition consumer opened again', { partition: this.partition, epoch: this.epoch });
        attempt = 0;
      } catch (e) {
        attempt++;
        this.d.log?.('partition consumer cannot open yet', {
          partition: this.partition,
          err: ensureError(e).message,
        });
      }
    }
  }

  /**
   * Closes the messages when their consumer or its stream is gone (the stream recreated: another identity),
   * so the supervisor opens it again; a check that cannot reach NATS decides nothing.
   */
  private watchConsumer(messages: ConsumerMessages): ReturnType<typeof setInterval> {
    const t = this.d.topology;
    let checking = false;
    const timer = setInterval(() => {
      if (checking || this.stopping) return;
      checking = true;
      void (async () => {
        let gone = false;
        try {
          const info = await this.d.jsm.streams.info(t.actorsStream);
          if (info.created !== this.epoch) gone = true;
          else await this.d.jsm.consumers.info(t.actorsStream, this.consumerName);
        } catch (e) {
          gone = /not found|no responders/i.test(ensureError(e).message);
        }
        if (gone && !this.stopping) {
          this.d.log?.('partition consumer lost; opening it again', { partition: this.partition });
          await messages.close().catch(() => {});
        }
      })().finally(() => {
        checking = false;
      });
    }, CONSUMER_CHECK_MS);
    timer.unref();
    return timer;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.stopping) break;
      const address = parseActorSubject(this.d.topology.actorRoot, m.subject);
      if (!address || address.partition !== this.partition) {
        this.d.log?.('not an actor inbox subject; dropped', { subject: m.subject });
        m.term();
        continue;
      }
      const delivery: Delivery = {
        data: m.data,
        seq: m.seq,
        msgId: m.headers?.get('Nats-Msg-Id') || `seq:${m.seq}`,
        subject: m.subject,
        ack: () => m.ack(),
        term: () => m.term(),
      };
      void this.enqueue(address, delivery, this.epoch, contextFromHeaders(m.headers));
    }
  }

  /**
   * Applies a message handed over in this process (its sender keeps it in PostgreSQL until the actor's commit
   * releases it): in the actor's order with the inbox's messages, without the JetStream round trip. `done` once
   * it is done with (applied, ignored or rejected, and recorded); not when this term could not apply it
   * (stopping, fenced, or failing for now): the caller then sends it through the inbox stream, saying `again`
   * when vendor calls ran in a turn of it that ended without a commit.
   */
  offer(
    address: ActorAddress & { partition: number },
    envelope: ActorEnvelope,
    msgId: string,
    parent: Context,
  ): Promise<{ done: boolean; again: boolean }> {
    if (this.stopping || address.partition !== this.partition)
      return Promise.resolve({ done: false, again: false });
    let done = false;
    const delivery: Delivery = {
      data: envelope,
      seq: null,
      msgId,
      ack: () => (done = true),
      term: () => (done = true),
    };
    return this.enqueue(address, delivery, this.epoch, parent).then(() => ({
      done,
      again: delivery.ranInTurn === true,
    }));
  }

  /** Queues a message behind the actor's earlier ones; resolves once it has been handled (or failed). */
  private enqueue(
    address: ActorAddress & { partition: number },
    delivery: Delivery,
    epoch: string,
    parent: Context,
  ): Promise<void> {
    const key = `${address.type}:${address.id}`;
    const tail = (this.actorTails.get(key) ?? Promise.resolve())
      .then(() => this.handle(delivery, address, epoch, parent))
      .catch((e: unknown) => {
        this.d.log?.('partition worker failed on a message; it will be redelivered', {
          partition: this.partition,
          seq: delivery.seq,
          err: ensureError(e).message,
        });
      });
    this.actorTails.set(key, tail);
    void tail.then(() => {
      if (this.actorTails.get(key) === tail) this.actorTails.delete(key);
    });
    return tail;
  }

  /** One message in a span of its own, continuing the trace its sender put in the headers. */
  private handle(
    m: Delivery,
    address: ActorAddress & { partition: number },
    epoch: string,
    parent: Context,
  ): Promise<void> {
    // Once stopping, later messages of this actor stay unacknowledged: the next term delivers them in order.
    if (this.stopping) return Promise.resolve();
    return inSpan(
      `process ${address.type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'lock.actor': `${address.type}/${address.id}`,
          ...(m.seq !== null ? { 'messaging.message.id': m.seq } : { 'lock.in_process': true }),
        },
      },
      () => this.apply(m, address, epoch),
      parent,
    );
  }

  private async apply(
    m: Delivery,
    address: ActorAddress & { partition: number },
    epoch: string,
  ): Promise<void> {
    const envelope = m.data instanceof Uint8Array ? parseEnvelope(m.data) : m.data;
    const msgId = m.msgId;
    const seq = m.seq ?? 0;
    if (typeof envelope === 'string') {
      const tenant = m.data instanceof Uint8Array ? tenantOf(m.data) : undefined;
      if (tenant) {
        if (await this.reject(address, tenant, msgId, seq, 'LOCK.VALIDATION', envelope)) m.term();
        return;
      }
      // No tenant to record it under (row-level security): logged and counted only.
      this.d.log?.('malformed actor message without a tenant; dropped', {
        subject: m.subject,
        reason: envelope,
      });
      this.d.onRejected?.('LOCK.VALIDATION');
      m.term();
      return;
    }
    const maxTries = this.d.maxTries ?? 6;
    let lastError = '';
    for (let attempt = 0, tries = 0; !this.stopping; attempt++) {
      if (tries >= maxTries) {
        const reason = withTurnCalls(`failed ${tries} times: ${lastError}`, m);
        if (await this.reject(address, envelope.tenantId, msgId, seq, 'LOCK.MESSAGE_FAILED', reason))
          await this.releaseThenAck(m, envelope, address);
        return;
      }
      // Vendor calls may run in this turn only for the message that creates the actor (a new credential's issue:
      // no other message can have asked for the same operation before), handed over in process by a sender that
      // keeps it in PostgreSQL until this actor's commit releases it (the effect runner, which says whether its
      // claim leaves the call time), on its first send and first try, and not while stopping. Any later delivery
      // of it says `again` (sweepers, a stopping worker passing it on), and so does every call left for after the
      // commit of a message whose turn ran calls and did not commit them.
      const inTurn =
        this.d.callsInTurn !== undefined &&
        attempt === 0 &&
        !this.stopping &&
        m.seq === null &&
        envelope.again !== true &&
        envelope.intentId !== undefined &&
        createsActor(address.type, envelope.event.type);
      let outcome: ApplyOutcome;
      try {
        outcome = await inSpan('transition', {}, async (span) => {
          // A turn that may call a vendor reads the actor rather than assume it new (a guess is checked only at
          // commit, after the call), unless its sender drew the actor's id and knows it new.
          const read = attempt > 0 || (inTurn && envelope.newActor !== true);
          // Decided again after a turn that ran calls and did not commit (its commit refused: the actor existed
          // after all): the machine is told the message was sent again, so what those calls made is looked up
          // and kept or swept, not left at the vendor.
          const told =
            m.ranInTurn === true && envelope.again !== true
              ? { ...envelope, again: true as const }
              : envelope;
          const o = await this.d.host.decide(address, told, m.seq, msgId, this.fence, epoch, read);
          span.setAttribute('lock.event', envelope.event.type);
          span.setAttribute('lock.outcome', o.kind);
          return o;
        });
      } catch (e) {
        this.d.host.evict(address);
        if (!isOutage(e)) tries++;
        lastError = ensureError(e).message;
        await this.backoff(attempt, e);
        continue;
      }
      if (outcome.kind === 'duplicate') {
        m.ack();
        return;
      }
      if (outcome.kind === 'unchanged') {
        if (await this.release(envelope, address, outcome.consumed)) m.ack();
        return;
      }
      if (outcome.kind === 'rejected') {
        const reason = withTurnCalls(outcome.reason, m);
        if (await this.reject(address, envelope.tenantId, msgId, seq, outcome.code, reason))
          await this.releaseThenAck(m, envelope, address);
        return;
      }
      let fellBack = false;
      const sender = envelope.intentId;
      if (inTurn && sender !== undefined && outcome.commit.expectedVersion === 0) {
        const calls = outcome.commit.intents.filter((i) => this.d.callsInTurn?.eligible(i.intent, sender));
        if (calls.length > 0) {
          m.ranInTurn = true;
          const turn = await this.runInTurn(address, envelope, outcome, calls);
          outcome = turn.decision;
          fellBack = !turn.merged;
          m.turnCalls = turn.calls;
        }
      }
      // Calls left for after the commit look up first when an earlier run of them may have made something: the
      // message said so, or this message's turn ran them and their answers are not in this commit.
      if (envelope.again === true || (m.ranInTurn === true && (attempt > 0 || fellBack)))
        outcome.again = true;
      try {
        // The hops after the commit (the relay, the effect runner, a sweeper) continue from this message.
        outcome.commit.trace = traceparentOf();
        // What a message releases is its at-most-once token (migration 0024), whichever way it came: a copy
        // through the stream of one applied in process (a sweeper's resend, a stopping worker's hand-over)
        // has a stream sequence the actor has not seen, and only its gone row says it was applied.
        if (outcome.commit.consumedIntents.length > 0 || outcome.commit.consumedTimer)
          outcome.commit.once = true;
        const commit = outcome.commit;
        await inSpan('commit', { attributes: { 'lock.version': commit.version } }, () =>
          this.d.batcher.commit(commit),
        );
      } catch (e) {
        this.d.host.evict(address);
        if (e instanceof AlreadyApplied) {
          // Applied before (a commit whose answer was lost): done with, nothing more to write.
          m.ack();
          return;
        }
        if (isLockError(e, 'LOCK.FENCED')) {
          // Another process owns this partition now; it will get the message.
          this.stopping = true;
          this.stopped.abort();
          return;
        }
        if (isConstraintViolation(e)) {
          const r = withTurnCalls(ensureError(e).message, m);
          if (await this.reject(address, envelope.tenantId, msgId, seq, 'LOCK.CONFLICT', r))
            await this.releaseThenAck(m, envelope, address);
          return;
        }
        if (!isOutage(e)) tries++;
        lastError = ensureError(e).message;
        if (!isLockError(e, 'LOCK.VERSION_CONFLICT')) await this.backoff(attempt, e);
        continue;
      }
      this.d.host.committed(address, outcome.commit, outcome.snapshot);
      m.ack();
      this.d.onCommitted(address, outcome);
      return;
    }
  }

  /**
   * Runs a transition's vendor calls in the actor's turn and applies their answers on top of it, in the order
   * the transition asked for them: one commit then records the transition and its answers (one group commit
   * instead of two, and no intent row, claim or answer message). The calls ran before anything of them was
   * recorded: if this turn ends without its commit, the message is still its sender's (see `inTurn`), and
   * every later delivery of it looks up before it creates. An answer the machine refuses leaves the calls to
   * run again after the commit, as they would have without the turn.
   */
  private async runInTurn(
    address: ActorAddress & { partition: number },
    envelope: ActorEnvelope,
    first: CommitDecision,
    calls: readonly { id: string; intent: EffectIntent }[],
  ): Promise<{ decision: CommitDecision; merged: boolean; calls: TurnCall[] }> {
    const trace = traceparentOf();
    const sender = envelope.intentId ?? '';
    const answers = await Promise.all(
      calls.map((c) =>
        this.d.callsInTurn!.run({
          id: c.id,
          tenantId: envelope.tenantId,
          actorType: address.type,
          actorId: address.id,
          intent: c.intent,
          rerun: false,
          ...(trace ? { trace } : {}),
          sender,
          signal: this.stopped.signal,
        }),
      ),
    );
    const made = calls.map((c, k): TurnCall => {
      const i = c.intent as VendorIntent;
      const a = answers[k]!;
      return {
        operationId: i.operationId,
        vendor: i.vendor,
        lock: i.vendorDeviceRef,
        // A failed call may still have made it (a timeout): unknown, not "none"; one the runner did not start is not.
        answer:
          'error' in a
            ? a.error.message.startsWith(NOT_MADE)
              ? 'not made'
              : `unknown (${a.error.code})`
            : `made ${a.vendorRef ?? '(no id)'}`,
      };
    });
    const steps: CommitDecision[] = [first];
    for (const [k, c] of calls.entries()) {
      const answer = answers[k]!;
      const o = this.d.host.decideNext(
        address,
        steps.at(-1)!,
        { tenantId: envelope.tenantId, event: answer, intentId: c.id },
        `${c.id}:outcome`,
        this.fence,
      );
      if (o.kind === 'commit') steps.push(o);
      else if (o.kind !== 'unchanged') {
        this.d.log?.('an answer of a vendor call run in the turn was refused; the call runs again', {
          actor: `${address.type}/${address.id}`,
          intentId: c.id,
          reason: o.kind === 'rejected' ? o.reason : o.kind,
        });
        return { decision: first, merged: false, calls: made };
      }
    }
    const last = steps.at(-1)!;
    const decision: CommitDecision = {
      kind: 'commit',
      commit: mergeTransitions(
        steps.map((x) => x.commit),
        new Set(calls.map((c) => c.id)),
      ),
      snapshot: last.snapshot,
      status: last.status,
      // What the actor last applied, as its notification says (its message id is the first's: what it applied).
      event: last.event,
      ...(first.intentId !== undefined ? { intentId: first.intentId } : {}),
      previous: first.previous,
      steps,
    };
    return { decision, merged: true, calls: made };
  }

  private async backoff(attempt: number, e: unknown): Promise<void> {
    this.d.log?.('retrying a message after an error', {
      partition: this.partition,
      attempt,
      err: ensureError(e).message,
    });
    await new Promise((r) => setTimeout(r, Math.min(MAX_DB_BACKOFF_MS, 50 * 2 ** attempt)));
  }

  /**
   * A rejected message releases what it carried too: kept, the sweepers would send it again and again (the
   * rejection is recorded, and counted).
   */
  private async releaseThenAck(m: Delivery, envelope: ActorEnvelope, address: ActorAddress): Promise<void> {
    const consumed: Consumed = {
      ...(envelope.intentId ? { intentId: envelope.intentId } : {}),
      ...(envelope.timer ? { timer: envelope.timer } : {}),
    };
    if (await this.release(envelope, address, consumed)) m.ack();
  }

  /** This term still holds the partition (its fence is the stored one). */
  private async stillFenced(): Promise<boolean> {
    const row = await this.d.runtimeDb
      .selectFrom('partition_fences')
      .select('fence')
      .where('partition', '=', this.partition)
      .executeTakeFirst();
    return row !== undefined && BigInt(row.fence) === this.fence;
  }

  /**
   * A message the machine ignores still releases what it carried (the answer of an intent, a timer), or the
   * sweepers would deliver it again and again — only while this term holds the partition (a process paused
   * past its lease must not release what the new owner has not applied). False when the release could not
   * be written (redelivered).
   */
  private async release(
    envelope: ActorEnvelope,
    address: ActorAddress,
    consumed: Consumed,
  ): Promise<boolean> {
    if (!consumed.intentId && !consumed.timer) return true;
    const fenced = (eb: ExpressionBuilder<Database, 'effect_intents' | 'timers'>) =>
      eb.exists(
        eb
          .selectFrom('partition_fences')
          .select('partition')
          .where('partition', '=', this.partition)
          .where('fence', '=', String(this.fence)),
      );
    try {
      await withTenant(this.d.runtimeDb, envelope.tenantId, async (tx) => {
        if (consumed.intentId)
          await tx
            .deleteFrom('effect_intents')
            .where('id', '=', consumed.intentId)
            .where((eb) => fenced(eb))
            .execute();
        if (consumed.timer)
          await tx
            .deleteFrom('timers')
            .where('actor_type', '=', address.type)
            .where('actor_id', '=', address.id)
            .where('key', '=', consumed.timer.key)
            .where('due_at', '=', new Date(consumed.timer.dueAt))
            .where((eb) => fenced(eb))
            .execute();
      });
      return true;
    } catch (e) {
      this.d.log?.('could not release what an ignored message carried', { err: ensureError(e).message });
      return false;
    }
  }

  /** Records a rejection; true once it is recorded (only then may the message be acknowledged). */
  private async reject(
    address: ActorAddress,
    tenantId: string,
    msgId: string,
    seq: number,
    code: string,
    reason: string,
  ): Promise<boolean> {
    this.d.log?.('message rejected', { actor: `${address.type}/${address.id}`, msgId, code, reason });
    try {
      await withTenant(this.d.runtimeDb, tenantId, (tx) =>
        tx
          .insertInto('rejected_messages')
          .values({
            tenant_id: tenantId,
            actor_type: address.type,
            actor_id: address.id,
            msg_id: msgId,
            stream_seq: seq,
            code,
            reason: reason.slice(0, 2000),
          })
          .execute(),
      );
    } catch (e) {
      this.d.log?.('could not record a rejection; the message will be redelivered', { err: String(e) });
      return false;
    }
    this.d.onRejected?.(code);
    return true;
  }
}

function isConstraintViolation(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('23');
}

/**
 * The world is down, not the message wrong: PostgreSQL unreachable, shutting down or out of resources
 * (SQLSTATE classes 08, 53, 57), a deadlock or serialization failure, a socket error, NATS unavailable.
 */
function isOutage(e: unknown): boolean {
  if (isLockError(e, 'LOCK.UNAVAILABLE')) return true;
  const code = (e as { code?: unknown })?.code;
  // 40001 serialization failure, 40P01 deadlock: concurrency, not the message.
  if (typeof code === 'string' && /^(08|53|57|40001|40P01)/.test(code)) return true;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, …
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    ensureError(e).message,
  );
}

/** The tenant of a message too malformed to parse, if it names one (the rejection is recorded under it). */
function tenantOf(data: Uint8Array): string | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as { tenantId?: unknown };
    return typeof v.tenantId === 'string' && v.tenantId.length > 0 ? v.tenantId : undefined;
  } catch {
    return undefined;
  }
}
