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
 */
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { ensureError, isLockError } from '../errors.ts';
import { type Db, withTenant } from '../io/db/index.ts';
import type { Topology } from '../io/nats/index.ts';
import type { ActorHost, ApplyOutcome } from './actorHost.ts';
import type { CommitBatcher } from './commitBatcher.ts';
import { parseEnvelope } from './envelope.ts';
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
  onCommitted(address: ActorAddress, outcome: Extract<ApplyOutcome, { kind: 'commit' }>): void;
  onRejected?(code: string): void;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

const MAX_DB_BACKOFF_MS = 5000;

export class PartitionWorker {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;
  /** The tail of each busy actor's queue: the next message for it runs after this settles. */
  private readonly actorTails = new Map<string, Promise<void>>();

  constructor(
    readonly partition: number,
    readonly fence: number,
    private readonly d: PartitionWorkerDeps,
  ) {}

  async start(): Promise<void> {
    const t = this.d.topology;
    const base = t.partitionConsumer(this.partition);
    const name = `${base}-f${this.fence}`;
    for await (const c of this.d.jsm.consumers.list(t.actorsStream)) {
      const n = c.config.durable_name ?? c.name;
      if ((n === base || n.startsWith(`${base}-f`)) && n !== name) {
        await this.d.jsm.consumers.delete(t.actorsStream, n).catch(() => {});
      }
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
    const consumer = await this.d.js.consumers.get(t.actorsStream, name);
    this.messages = await consumer.consume({ max_messages: this.d.maxInFlight ?? 256 });
    this.loop = this.run(this.messages);
  }

  /** Stops taking messages; those in hand finish (commit + ack) or are left for redelivery. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close().catch(() => {});
    await this.loop.catch(() => {});
    await Promise.all(this.actorTails.values());
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
      const key = `${address.type}:${address.id}`;
      const tail = (this.actorTails.get(key) ?? Promise.resolve())
        .then(() => this.handle(m, address))
        .catch((e: unknown) => {
          this.d.log?.('partition worker failed on a message; it will be redelivered', {
            partition: this.partition,
            seq: m.seq,
            err: ensureError(e).message,
          });
        });
      this.actorTails.set(key, tail);
      void tail.then(() => {
        if (this.actorTails.get(key) === tail) this.actorTails.delete(key);
      });
    }
  }

  private async handle(m: JsMsg, address: ActorAddress & { partition: number }): Promise<void> {
    // Once stopping, later messages of this actor stay unacknowledged: the next term delivers them in order.
    if (this.stopping) return;
    const envelope = parseEnvelope(m.data);
    if (typeof envelope === 'string') {
      this.d.log?.('malformed actor message; dropped', { subject: m.subject, reason: envelope });
      this.d.onRejected?.('LOCK.VALIDATION');
      m.term();
      return;
    }
    const msgId = m.headers?.get('Nats-Msg-Id') || `seq:${m.seq}`;
    for (let attempt = 0; !this.stopping; attempt++) {
      let outcome: ApplyOutcome;
      try {
        outcome = await this.d.host.decide(address, envelope, m.seq, msgId, this.fence);
      } catch (e) {
        await this.backoff(attempt, e);
        continue;
      }
      if (outcome.kind === 'duplicate' || outcome.kind === 'unchanged') {
        m.ack();
        return;
      }
      if (outcome.kind === 'rejected') {
        await this.reject(address, envelope.tenantId, msgId, m.seq, outcome.code, outcome.reason);
        m.ack();
        return;
      }
      try {
        await this.d.batcher.commit(outcome.commit);
      } catch (e) {
        this.d.host.evict(address);
        if (isLockError(e, 'LOCK.FENCED')) {
          // Another process owns this partition now; it will get the message.
          this.stopping = true;
          return;
        }
        if (isLockError(e, 'LOCK.VERSION_CONFLICT')) continue;
        if (isConstraintViolation(e)) {
          await this.reject(
            address,
            envelope.tenantId,
            msgId,
            m.seq,
            'LOCK.CONFLICT',
            ensureError(e).message,
          );
          m.ack();
          return;
        }
        await this.backoff(attempt, e);
        continue;
      }
      this.d.host.committed(address, outcome.commit, outcome.snapshot);
      m.ack();
      this.d.onCommitted(address, outcome);
      return;
    }
  }

  private async backoff(attempt: number, e: unknown): Promise<void> {
    this.d.log?.('retrying a message after an error', {
      partition: this.partition,
      attempt,
      err: ensureError(e).message,
    });
    await new Promise((r) => setTimeout(r, Math.min(MAX_DB_BACKOFF_MS, 50 * 2 ** attempt)));
  }

  private async reject(
    address: ActorAddress,
    tenantId: string,
    msgId: string,
    seq: number,
    code: string,
    reason: string,
  ) {
    this.d.onRejected?.(code);
    this.d.log?.('message rejected', { actor: `${address.type}/${address.id}`, msgId, code });
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
          reason,
        })
        .execute(),
    ).catch((e) => this.d.log?.('could not record a rejection', { err: String(e) }));
  }
}

function isConstraintViolation(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('23');
}
