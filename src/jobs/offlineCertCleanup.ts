/**
 * `lock-offline-cert-cleanup` (the topology's daily job, also run by every service process each hour):
 * certificates past their end go on the revocation list as `expired`, so the desks pulling it drop them, and
 * those long past their end (30 days by default) are archived — off the list agents pull, kept for a desk's
 * very late push. Across tenants, through `lock_offline_cert_cleanup` (SECURITY DEFINER, migration 0018), a
 * batch per pass.
 */
import { sql } from 'kysely';
import { DrainLoop } from '../actors/drainLoop.ts';
import type { Clock } from '../ids.ts';
import type { Db } from '../io/db/index.ts';

export interface OfflineCertCleanupOptions {
  db: Db;
  clock: Clock;
  archiveAfterMs?: number;
  everyMs?: number;
  log?: (msg: string, data?: Record<string, unknown>) => void;
}

const BATCH = 1000;

/** One pass: how many certificates went on the list as expired, and how many were archived. */
export async function cleanOfflineCertificates(
  o: Pick<OfflineCertCleanupOptions, 'db' | 'clock' | 'archiveAfterMs'>,
): Promise<{ listed: number; archived: number }> {
  const archiveAfter = `${Math.round((o.archiveAfterMs ?? 30 * 86_400_000) / 1000)} seconds`;
  const total = { listed: 0, archived: 0 };
  for (;;) {
    const { rows } = await sql<{ listed: number; archived: number }>`
      select * from lock_offline_cert_cleanup(${o.clock.now()}, ${archiveAfter}::interval, ${BATCH})`.execute(
      o.db,
    );
    const r = rows[0] ?? { listed: 0, archived: 0 };
    total.listed += r.listed;
    total.archived += r.archived;
    if (r.listed < BATCH && r.archived < BATCH) return total;
  }
}

export class OfflineCertCleanup {
  private readonly loop: DrainLoop;

  constructor(o: OfflineCertCleanupOptions) {
    this.loop = new DrainLoop(
      async () => {
        const r = await cleanOfflineCertificates(o);
        if (r.listed || r.archived) o.log?.('offline-issuance certificates cleaned up', { ...r });
        return 0;
      },
      {
        everyMs: o.everyMs ?? 3_600_000,
        onError: (e) => o.log?.('offline certificate cleanup failed', { err: String(e) }),
      },
    );
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
