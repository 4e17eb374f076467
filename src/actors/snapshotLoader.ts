/**
 * Activation reads, batched: every snapshot asked for while a read is in flight is fetched by the next
 * one, in one round trip (`lock_load_snapshots`, migration 0002). Under load, hundreds of actors activate
 * at once; one query each would queue them all behind the connection pool.
 */
import { sql } from 'kysely';
import type { Db } from '../io/db/index.ts';

export interface SnapshotRow {
  tenantId: string;
  version: number;
  lastSeq: number;
  snapshot: unknown;
}

interface Request {
  tenant: string;
  type: string;
  id: string;
  resolve: (row: SnapshotRow | undefined) => void;
  reject: (e: unknown) => void;
}

const MAX_KEYS = 500;

export class SnapshotLoader {
  private queue: Request[] = [];
  private running = 0;

  constructor(
    private readonly db: Db,
    private readonly maxConcurrentReads = 2,
  ) {}

  /** The snapshot of (type, id) as `tenant` sees it (row-level security), or undefined. */
  load(tenant: string, type: string, id: string): Promise<SnapshotRow | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ tenant, type, id, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxConcurrentReads && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_KEYS);
      this.running++;
      void this.read(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async read(batch: Request[]): Promise<void> {
    try {
      const keys = JSON.stringify(batch.map((r) => ({ tenant: r.tenant, type: r.type, id: r.id })));
      const { rows } = await sql<{
        tenant_id: string;
        actor_type: string;
        actor_id: string;
        version: string;
        last_seq: string;
        snapshot: unknown;
      }>`select * from lock_load_snapshots(${keys}::jsonb)`.execute(this.db);
      const found = new Map(
        rows.map((r) => [
          `${r.tenant_id}|${r.actor_type}|${r.actor_id}`,
          {
            tenantId: r.tenant_id,
            version: Number(r.version),
            lastSeq: Number(r.last_seq),
            snapshot: r.snapshot,
          },
        ]),
      );
      for (const r of batch) r.resolve(found.get(`${r.tenant}|${r.type}|${r.id}`));
    } catch (e) {
      for (const r of batch) r.reject(e);
    }
  }
}
