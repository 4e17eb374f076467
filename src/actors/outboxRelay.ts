/**
 * Publishes committed domain events to LOCK_EVENTS with `Nats-Msg-Id` = eventId, in commit order. One
 * relay at a time across all processes (a session-level advisory lock on the relay's own connection,
 * migration 0025), so per-aggregate order holds; each pass is one statement that deletes what the previous
 * pass published and reads what is next, so a crash republishes, and JetStream's duplicate window turns the
 * republish into a no-op.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { SpanKind } from '@opentelemetry/api';
import { sql } from 'kysely';
import { contextFromTraceparent, injectInto, inSpan } from '../observability/tracing.ts';
import { DrainLoop } from './drainLoop.ts';
import type { Db } from '../io/db/index.ts';

export interface OutboxRelayOptions {
  /**
   * The relay's own connection (a pool of one, as the dispatcher role): the relay's lock is its session's,
   * held from pass to pass and let go when the connection closes (a process that dies hands over at once).
   */
  relayDb: Db;
  js: JetStreamClient;
  pollMs?: number;
  batch?: number;
  onPublished?: (n: number) => void;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

export class OutboxRelay {
  private readonly loop: DrainLoop;
  /** Ids the previous pass published: the next pass deletes them. */
  private published: string[] = [];

  constructor(private readonly o: OutboxRelayOptions) {
    this.loop = new DrainLoop(() => this.relayOnce(), {
      // Rows another process committed are published by the lock's holder: at its next pass at the latest.
      everyMs: o.pollMs ?? 200,
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

  /**
   * Stops passing; what the last pass published is deleted now rather than published again later, and the
   * lock is let go: another process's relay takes over at its next pass.
   */
  async stop(): Promise<void> {
    await this.loop.stop();
    if (this.published.length > 0) await this.pass(0).catch(() => {});
    await this.letGo();
  }

  async relayOnce(): Promise<number> {
    const rows = await this.pass(this.o.batch ?? 500);
    if (rows.length === 0) return 0;
    // Publishes leave in order on one connection; their acks are awaited together. One that fails leaves
    // all of this pass's rows in place: the next pass publishes them again, in order — this process's or
    // another's: a relay that cannot publish (its NATS is gone) does not keep the lock from one that can.
    try {
      await Promise.all(rows.map((r) => this.publish(r)));
    } catch (e) {
      await this.letGo();
      throw e;
    }
    this.published = rows.map((r) => r.id);
    this.o.onPublished?.(rows.length);
    return rows.length;
  }

  /** Lets go of the relay lock (each pass counts it once more: all of it). */
  private async letGo(): Promise<void> {
    await sql`select pg_advisory_unlock_all()`.execute(this.o.relayDb).catch(() => {});
  }

  /** Deletes what was published, then reads what is next (nothing while another process is the relay). */
  private async pass(limit: number) {
    const done = this.published;
    const { rows } = await sql<{
      id: string;
      event_id: string;
      subject: string;
      payload: unknown;
      trace: string | null;
    }>`select * from lock_outbox_pass(${done}::bigint[], ${limit})`.execute(this.o.relayDb);
    // Only once the statement has run: a failed one deleted nothing, and the ids wait for the next.
    if (this.published === done) this.published = [];
    return rows;
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
