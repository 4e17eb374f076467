/**
 * Delivers durable timers: a due row is published to its actor's inbox (naming the timer, so the commit that
 * applies it deletes the row in the same transaction) and marked to be delivered again after
 * `redeliverMs` if it is still there then. JetStream acknowledging the publish is not the record (2.9
 * acknowledges before fsync): until its actor has applied it, a timer stays. The first delivery's message id
 * is the timer's key and due time; a redelivery gets its own (JetStream keeps the ids of messages it has
 * since lost, and would drop the redelivery as a duplicate): the actor recognizes a repeat by its state.
 * xstate's `after:` is never used for deadlines.
 */
import { sql } from 'kysely';
import type { Db } from '../io/db/index.ts';
import { DrainLoop } from './drainLoop.ts';
import type { ActorMailbox } from './mailbox.ts';
import { type ActorType, actorTypes } from './partitioning.ts';

export interface TimerDispatcherOptions {
  dispatcherDb: Db;
  mailbox: ActorMailbox;
  pollMs?: number;
  batch?: number;
  /** How long a delivered timer waits for its actor before it is delivered again (default 30 s). */
  redeliverMs?: number;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

export class TimerDispatcher {
  private readonly loop: DrainLoop;
  private stopped = false;

  constructor(private readonly o: TimerDispatcherOptions) {
    this.loop = new DrainLoop(() => this.dispatchDue(), {
      everyMs: o.pollMs ?? 250,
      onError: (e) => o.log?.('timer dispatch failed', { err: String(e) }),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
  }

  /**
   * Delivers every timer due now (and every delivered one not applied in time); returns how many. The rows
   * are marked first, in a short transaction, and published after it: no timer row stays locked while
   * JetStream answers (a group commit touching it would wait). A crash between the two delays those timers
   * by `redeliverMs`; it loses none.
   */
  async dispatchDue(): Promise<number> {
    if (this.stopped) return 0;
    const { rows } = await sql<{
      tenant_id: string;
      actor_type: string;
      actor_id: string;
      key: string;
      due_at: Date;
      redeliver_at: Date | null;
      event: Record<string, unknown>;
    }>`
      with due as (
        select actor_type, actor_id, key, due_at, redeliver_at as previous from timers
         where coalesce(redeliver_at, due_at) <= now()
         order by coalesce(redeliver_at, due_at) limit ${this.o.batch ?? 500} for update skip locked)
      update timers t set redeliver_at = now() + ${`${this.o.redeliverMs ?? 30_000} milliseconds`}::interval
        from due
       where (t.actor_type, t.actor_id, t.key, t.due_at) = (due.actor_type, due.actor_id, due.key, due.due_at)
      returning t.tenant_id, t.actor_type, t.actor_id, t.key, t.due_at, due.previous as redeliver_at, t.event
    `.execute(this.o.dispatcherDb);
    const known = rows.filter((t) => (actorTypes as readonly string[]).includes(t.actor_type));
    await Promise.all(
      known.map((t) => {
        const dueAt = t.due_at.toISOString();
        return this.o.mailbox.send(
          { type: t.actor_type as ActorType, id: t.actor_id },
          {
            tenantId: t.tenant_id,
            event: { ...t.event, type: String(t.event.type), at: dueAt },
            timer: { key: t.key, dueAt },
            ...(t.redeliver_at ? { again: true as const } : {}),
          },
          `timer:${t.actor_type}:${t.actor_id}:${t.key}:${t.due_at.getTime()}${t.redeliver_at ? `:r${t.redeliver_at.getTime()}` : ''}`,
        );
      }),
    );
    return known.length;
  }
}
