/**
 * Deletes Idempotency-Keys past their retention (24 h by default), a batch per pass, through
 * `lock_prune_idempotency` (migration 0006): the dispatcher role deletes old keys and reads none.
 */
import { sql } from 'kysely';
import { DrainLoop } from '../actors/drainLoop.ts';
import type { Clock } from '../ids.ts';
import type { Db } from '../io/db/index.ts';

export interface IdempotencyPrunerOptions {
  dispatcherDb: Db;
  clock: Clock;
  retentionMs: number;
  everyMs?: number;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

export class IdempotencyPruner {
  private readonly loop: DrainLoop;

  constructor(private readonly o: IdempotencyPrunerOptions) {
    this.loop = new DrainLoop(() => this.pruneOnce(), {
      everyMs: o.everyMs ?? 10 * 60_000,
      onError: (e) => o.log?.('idempotency key pruning failed', { err: String(e) }),
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One batch of keys older than the retention; returns how many went (a full batch asks for another pass). */
  async pruneOnce(): Promise<number> {
    const before = new Date(this.o.clock.now().getTime() - this.o.retentionMs);
    const { rows } = await sql<{ n: number }>`select lock_prune_idempotency(${before}, 1000) as n`.execute(
      this.o.dispatcherDb,
    );
    return rows[0]?.n ?? 0;
  }
}
