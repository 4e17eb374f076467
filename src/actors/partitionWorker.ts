/**
 * Consumes one partition's inbox with one durable pull consumer and `max_ack_pending: 1`: messages are
 * applied strictly in stream order, and a message delivered to a dead owner is redelivered before any
 * later one. Per message: decide (pure transition) → commit (group-committed transaction) → ack → effects.
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
  onCommitted(address: ActorAddress, outcome: Extract<ApplyOutcome, { kind: 'commit' }>): void;
  onRejected?(code: string): void;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

const MAX_DB_BACKOFF_MS = 5000;

export class PartitionWorker {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    readonly partition: number,
    readonly fence: number,
    private readonly d: PartitionWorkerDeps,
  ) {}

  async start(): Promise<void> {
    const t = this.d.topology;
    const name = t.partitionConsumer(this.partition);
    try {
      await this.d.jsm.consumers.info(t.actorsStream, name);
    } catch {
      await this.d.jsm.consumers.add(t.actorsStream, {
        durable_name: name,
        filter_subject: `${t.actorRoot}.${this.partition}.>`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_ack_pending: 1,
        ack_wait: this.d.ackWaitMs * 1_000_000,
      });
    }
    const consumer = await this.d.js.consumers.get(t.actorsStream, name);
    this.messages = await consumer.consume({ max_messages: 8 });
    this.loop = this.run(this.messages);
  }

  /** Stops taking messages; the one in hand finishes (commit + ack) or is left for redelivery. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.messages?.close().catch(() => {});
    await this.loop.catch(() => {});
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      if (this.stopping) break;
      try {
        await this.handle(m);
      } catch (e) {
        this.d.log?.('partition worker failed on a message; it will be redelivered', {
          partition: this.partition,
          seq: m.seq,
          err: ensureError(e).message,
        });
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const address = parseActorSubject(this.d.topology.actorRoot, m.subject);
    if (!address || address.partition !== this.partition) {
      this.d.log?.('not an actor inbox subject; dropped', { subject: m.subject });
      m.term();
      return;
    }
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
