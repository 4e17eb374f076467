/**
 * Delivers durable timers: due rows are published to their actor's inbox and deleted in the same
 * transaction that locked them, so a crash before the commit leaves them to be delivered again (the
 * message id makes the repeat a duplicate). xstate's `after:` is never used for deadlines.
 */
import { sql } from 'kysely';
import { DrainLoop } from './drainLoop.ts';
import type { Db } from '../io/db/index.ts';
import type { ActorMailbox } from './mailbox.ts';
import type { ActorType } from './partitioning.ts';

export interface TimerDispatcherOptions {
  dispatcherDb: Db;
  mailbox: ActorMailbox;
  pollMs?: number;
  batch?: number;
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

  /** Delivers every timer due now; returns how many. */
  async dispatchDue(): Promise<number> {
    if (this.stopped) return 0;
    return this.o.dispatcherDb.transaction().execute(async (tx) => {
      const due = await sql<{
        tenant_id: string;
        actor_type: string;
        actor_id: string;
        key: string;
        due_at: Date;
        event: Record<string, unknown>;
      }>`
        select tenant_id, actor_type, actor_id, key, due_at, event from timers
         where due_at <= now() order by due_at limit ${this.o.batch ?? 500} for update skip locked
      `.execute(tx);
      if (due.rows.length === 0) return 0;
      await Promise.all(
        due.rows.map((t) =>
          this.o.mailbox.send(
            { type: t.actor_type as ActorType, id: t.actor_id },
            {
              tenantId: t.tenant_id,
              event: { ...t.event, type: String(t.event.type), at: t.due_at.toISOString() },
            },
            `timer:${t.actor_type}:${t.actor_id}:${t.key}:${t.due_at.getTime()}`,
          ),
        ),
      );
      const keys = due.rows.map((t) => sql`(${t.actor_type}, ${t.actor_id}, ${t.key}, ${t.due_at})`);
      await sql`delete from timers where (actor_type, actor_id, key, due_at) in (${sql.join(keys)})`.execute(
        tx,
      );
      return due.rows.length;
    });
  }
}
