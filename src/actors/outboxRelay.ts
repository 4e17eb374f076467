/**
 * Publishes committed domain events to LOCK_EVENTS with `Nats-Msg-Id` = eventId, in commit order. One
 * relay at a time across all processes (a transaction-scoped advisory lock), so per-aggregate order holds;
 * rows are deleted in the transaction that published them, so a crash republishes, and JetStream's
 * duplicate window turns the republish into a no-op.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { SpanKind } from '@opentelemetry/api';
import { sql } from 'kysely';
import { contextFromTraceparent, injectInto, inSpan } from '../observability/tracing.ts';
import { DrainLoop } from './drainLoop.ts';
import type { Db } from '../io/db/index.ts';

const RELAY_LOCK = 0x10c4_0001;

export interface OutboxRelayOptions {
  dispatcherDb: Db;
  js: JetStreamClient;
  pollMs?: number;
  batch?: number;
  onPublished?: (n: number) => void;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

export class OutboxRelay {
  private readonly loop: DrainLoop;

  constructor(private readonly o: OutboxRelayOptions) {
    this.loop = new DrainLoop(() => this.relayOnce(), {
      everyMs: o.pollMs ?? 500,
      onError: (e) => o.log?.('outbox relay failed', { err: String(e) }),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Asks for a relay pass soon (after a commit that wrote outbox rows). Coalesces. */
  nudge(): void {
    this.loop.nudge();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async relayOnce(): Promise<number> {
    return this.o.dispatcherDb.transaction().execute(async (tx) => {
      const lock = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${RELAY_LOCK}) as ok`.execute(
        tx,
      );
      if (!lock.rows[0]?.ok) return 0;
      const rows = await sql<{
        id: string;
        event_id: string;
        subject: string;
        payload: unknown;
        trace: string | null;
      }>`
        select id, event_id, subject, payload, trace from outbox order by id limit ${this.o.batch ?? 500}
      `.execute(tx);
      if (rows.rows.length === 0) return 0;
      // Publishes leave in order on one connection; their acks are awaited together.
      await Promise.all(rows.rows.map((r) => this.publish(r)));
      await sql`delete from outbox where id = any(${rows.rows.map((r) => r.id)}::bigint[])`.execute(tx);
      this.o.onPublished?.(rows.rows.length);
      return rows.rows.length;
    });
  }

  /** One event, in a span continuing the trace of the commit that wrote it; its subscribers' too (header). */
  private publish(r: { event_id: string; subject: string; payload: unknown; trace: string | null }) {
    return inSpan(
      `publish ${r.subject}`,
      { kind: SpanKind.PRODUCER, attributes: { 'messaging.message.id': r.event_id } },
      () => {
        const h = headers();
        const traced = injectInto(h);
        return this.o.js.publish(r.subject, JSON.stringify(r.payload), {
          msgID: r.event_id,
          ...(traced ? { headers: h } : {}),
        });
      },
      contextFromTraceparent(r.trace),
    );
  }
}
