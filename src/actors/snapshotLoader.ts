/**
 * Activation reads, batched: every snapshot asked for while a read is in flight is fetched by the next
 * one, in one round trip (`lock_load_snapshots`, migration 0002). Under load, hundreds of actors activate
 * at once; one query each would queue them all behind the connection pool.
 */
import { sql } from 'kysely';
import type { Db } from '../io/db/index.ts';
import { MicroBatcher } from '../io/db/microBatcher.ts';

export interface SnapshotRow {
  tenantId: string;
  version: number;
  lastSeq: number;
  machineVersion: number;
  /** The inbox stream `lastSeq` counts in; null for rows written before it was kept. */
  epoch: string | null;
  snapshot: unknown;
}

interface Key {
  tenant: string;
  type: string;
  id: string;
}

export class SnapshotLoader {
  private readonly batcher: MicroBatcher<Key, SnapshotRow | undefined>;

  constructor(db: Db, maxConcurrentReads = 2) {
    this.batcher = new MicroBatcher((keys) => read(db, keys), 500, maxConcurrentReads);
  }

  /** The snapshot of (type, id) as `tenant` sees it (row-level security), or undefined. */
  load(tenant: string, type: string, id: string): Promise<SnapshotRow | undefined> {
    return this.batcher.submit({ tenant, type, id });
  }
}

async function read(db: Db, keys: Key[]): Promise<(SnapshotRow | undefined)[]> {
  const { rows } = await sql<{
    tenant_id: string;
    actor_type: string;
    actor_id: string;
    version: string;
    last_seq: string;
    machine_version: number;
    inbox_epoch: string | null;
    snapshot: unknown;
  }>`select * from lock_load_snapshots(${JSON.stringify(keys)}::jsonb)`.execute(db);
  const found = new Map(
    rows.map((r) => [
      `${r.tenant_id}|${r.actor_type}|${r.actor_id}`,
      {
        tenantId: r.tenant_id,
        version: Number(r.version),
        lastSeq: Number(r.last_seq),
        machineVersion: r.machine_version,
        epoch: r.inbox_epoch,
        snapshot: r.snapshot,
      },
    ]),
  );
  return keys.map((k) => found.get(`${k.tenant}|${k.type}|${k.id}`));
}
