/**
 * Group commit: transitions of many actors, from any partition, written in one PostgreSQL transaction
 * with multi-row statements. Each actor keeps its own optimistic version check and each partition its
 * fencing token; an actor that fails either check is refused alone and the rest commit.
 */
import { sql } from 'kysely';
import { LockError } from '../errors.ts';
import { type Db, setTenant, type Tx } from '../io/db/index.ts';
import type { ReadModelRow } from './actorKinds.ts';
import type { ActorCommit } from './commit.ts';

interface Pending {
  commit: ActorCommit;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface CommitBatcherOptions {
  maxBatch?: number;
  onBatch?: (size: number, ms: number) => void;
}

export interface CommitBatcher {
  /** Resolves once the commit is durable; rejects with LOCK.FENCED, LOCK.VERSION_CONFLICT or a DB error. */
  commit(c: ActorCommit): Promise<void>;
  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void>;
}

const keyOf = (c: ActorCommit) => `${c.actorType}:${c.actorId}`;

export function createCommitBatcher(db: Db, opts: CommitBatcherOptions = {}): CommitBatcher {
  const maxBatch = opts.maxBatch ?? 256;
  let queue: Pending[] = [];
  let running = false;
  let idleWaiters: (() => void)[] = [];

  async function pump(): Promise<void> {
    if (running) return;
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        const started = performance.now();
        await writeBatch(db, batch);
        opts.onBatch?.(batch.length, performance.now() - started);
      }
    } finally {
      running = false;
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  }

  return {
    commit(commit) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ commit, resolve, reject });
        void pump();
      });
    },
    idle() {
      if (!running && queue.length === 0) return Promise.resolve();
      return new Promise((r) => idleWaiters.push(r));
    },
  };
}

/** Writes a batch; refused members are rejected and the rest retried until a transaction succeeds. */
async function writeBatch(db: Db, batch: Pending[]): Promise<void> {
  let members = batch;
  while (members.length > 0) {
    const refused = new Map<Pending, LockError>();
    try {
      await db.transaction().execute(async (tx) => {
        await checkFences(tx, members, refused);
        const live = members.filter((m) => !refused.has(m));
        await writeSnapshots(tx, live, refused);
        if (refused.size > 0) throw new RefusedMembers();
        await writeRest(tx, live);
      });
      for (const m of members) m.resolve();
      return;
    } catch (e) {
      if (e instanceof RefusedMembers) {
        for (const [m, err] of refused) m.reject(err);
        members = members.filter((m) => !refused.has(m));
        continue;
      }
      if (members.length === 1) {
        members[0]!.reject(e);
        return;
      }
      // One bad member (a constraint, say) must not sink the others: write them one by one.
      for (const m of members) await writeBatch(db, [m]);
      return;
    }
  }
}

class RefusedMembers extends Error {}

async function checkFences(tx: Tx, members: Pending[], refused: Map<Pending, LockError>): Promise<void> {
  const partitions = [...new Set(members.map((m) => m.commit.partition))];
  // FOR SHARE: a new owner's fence update waits for this transaction, and this one sees its result after.
  const rows = await sql<{ partition: number; fence: string }>`
    select partition, fence from partition_fences where partition = any(${partitions}::int[]) for share
  `.execute(tx);
  const fences = new Map(rows.rows.map((r) => [r.partition, Number(r.fence)]));
  for (const m of members) {
    const current = fences.get(m.commit.partition);
    if (current !== m.commit.fence) {
      refused.set(
        m,
        new LockError('LOCK.FENCED', `partition ${m.commit.partition} fence ${current} ≠ ${m.commit.fence}`),
      );
    }
  }
}

function byTenant(members: Pending[]): Map<string, ActorCommit[]> {
  const groups = new Map<string, ActorCommit[]>();
  for (const m of members) {
    const g = groups.get(m.commit.tenantId);
    if (g) g.push(m.commit);
    else groups.set(m.commit.tenantId, [m.commit]);
  }
  return groups;
}

async function writeSnapshots(tx: Tx, members: Pending[], refused: Map<Pending, LockError>): Promise<void> {
  const byKey = new Map(members.map((m) => [keyOf(m.commit), m]));
  for (const [tenant, commits] of byTenant(members)) {
    await setTenant(tx, tenant);
    const fresh = commits.filter((c) => c.expectedVersion === 0);
    const existing = commits.filter((c) => c.expectedVersion > 0);
    const written = new Set<string>();
    if (fresh.length > 0) {
      const r = await tx
        .insertInto('actor_snapshots')
        .values(
          fresh.map((c) => ({
            tenant_id: c.tenantId,
            actor_type: c.actorType,
            actor_id: c.actorId,
            version: c.version,
            last_seq: c.lastSeq,
            machine_version: c.machineVersion,
            snapshot: c.snapshot,
          })),
        )
        .onConflict((oc) => oc.columns(['actor_type', 'actor_id']).doNothing())
        .returning(['actor_type', 'actor_id'])
        .execute();
      for (const row of r) written.add(`${row.actor_type}:${row.actor_id}`);
    }
    if (existing.length > 0) {
      const values = sql.join(
        existing.map(
          (c) =>
            sql`(${c.actorType}, ${c.actorId}, ${c.expectedVersion}::bigint, ${c.version}::bigint, ${c.lastSeq}::bigint, ${c.machineVersion}::int, ${c.snapshot}::jsonb)`,
        ),
      );
      const r = await sql<{ actor_type: string; actor_id: string }>`
        update actor_snapshots s
           set version = v.version, last_seq = v.last_seq, machine_version = v.mv, snapshot = v.snapshot, updated_at = now()
          from (values ${values}) as v(actor_type, actor_id, expected, version, last_seq, mv, snapshot)
         where s.actor_type = v.actor_type and s.actor_id = v.actor_id and s.version = v.expected
        returning s.actor_type, s.actor_id
      `.execute(tx);
      for (const row of r.rows) written.add(`${row.actor_type}:${row.actor_id}`);
    }
    for (const c of commits) {
      if (!written.has(keyOf(c))) {
        refused.set(
          byKey.get(keyOf(c))!,
          new LockError('LOCK.VERSION_CONFLICT', `${keyOf(c)} is not at version ${c.expectedVersion}`),
        );
      }
    }
  }
}

async function writeRest(tx: Tx, members: Pending[]): Promise<void> {
  for (const [tenant, commits] of byTenant(members)) {
    await setTenant(tx, tenant);
    await writeReadModels(
      tx,
      commits.flatMap((c) => (c.readModel ? [c.readModel] : [])),
    );
    const outbox = commits.flatMap((c) =>
      c.outbox.map((o) => ({
        tenant_id: tenant,
        event_id: o.eventId,
        subject: o.subject,
        payload: JSON.stringify(o.payload),
      })),
    );
    if (outbox.length > 0) await tx.insertInto('outbox').values(outbox).execute();
    await tx
      .insertInto('audit_log')
      .values(commits.map((c) => ({ tenant_id: tenant, entry: c.audit })))
      .execute();
    await writeTimers(tx, tenant, commits);
    const intents = commits.flatMap((c) =>
      c.intents.map((i) => ({
        tenant_id: tenant,
        id: i.id,
        actor_type: c.actorType,
        actor_id: c.actorId,
        operation_id: i.operationId,
        intent: JSON.stringify(i.intent),
        // The committing runtime runs it at once; the sweeper takes over only if this claim lapses.
        claimed_until: sql<Date>`now() + interval '30 seconds'`,
      })),
    );
    if (intents.length > 0) await tx.insertInto('effect_intents').values(intents).execute();
  }
}

async function writeTimers(tx: Tx, tenant: string, commits: ActorCommit[]): Promise<void> {
  const cancels: ReturnType<typeof sql>[] = [];
  const upserts: {
    tenant_id: string;
    actor_type: string;
    actor_id: string;
    key: string;
    due_at: string;
    event: string;
  }[] = [];
  for (const c of commits) {
    for (const [key, t] of c.timers) {
      if (t === null) cancels.push(sql`(${c.actorType}, ${c.actorId}, ${key})`);
      else
        upserts.push({
          tenant_id: tenant,
          actor_type: c.actorType,
          actor_id: c.actorId,
          key,
          due_at: t.dueAt,
          event: JSON.stringify(t.event),
        });
    }
  }
  if (cancels.length > 0) {
    await sql`delete from timers where (actor_type, actor_id, key) in (${sql.join(cancels)})`.execute(tx);
  }
  if (upserts.length > 0) {
    await tx
      .insertInto('timers')
      .values(upserts)
      .onConflict((oc) =>
        oc.columns(['actor_type', 'actor_id', 'key']).doUpdateSet((eb) => ({
          due_at: eb.ref('excluded.due_at'),
          event: eb.ref('excluded.event'),
        })),
      )
      .execute();
  }
}

async function writeReadModels(tx: Tx, rows: ReadModelRow[]): Promise<void> {
  const credentials = rows.flatMap((r) => (r.table === 'key_credentials' ? [r.row] : []));
  const properties = rows.flatMap((r) => (r.table === 'properties' ? [r.row] : []));
  const devices = rows.flatMap((r) => (r.table === 'lock_devices' ? [r.row] : []));
  if (credentials.length > 0) {
    await tx
      .insertInto('key_credentials')
      .values(credentials)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          grants: eb.ref('excluded.grants'),
          failure: eb.ref('excluded.failure'),
          vendor: eb.ref('excluded.vendor'),
          valid_from: eb.ref('excluded.valid_from'),
          valid_until: eb.ref('excluded.valid_until'),
          version: eb.ref('excluded.version'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }
  if (properties.length > 0) {
    await tx
      .insertInto('properties')
      .values(properties)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          name: eb.ref('excluded.name'),
          timezone: eb.ref('excluded.timezone'),
          vendor_adapters: eb.ref('excluded.vendor_adapters'),
          key_kind_policy: eb.ref('excluded.key_kind_policy'),
          version: eb.ref('excluded.version'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }
  if (devices.length > 0) {
    await tx
      .insertInto('lock_devices')
      .values(devices)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          areas: eb.ref('excluded.areas'),
          version: eb.ref('excluded.version'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }
}
