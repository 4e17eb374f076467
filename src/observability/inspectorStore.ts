/**
 * What the inspector page reads (`/inspect`), for one tenant (row-level security): the actors with their state,
 * version and last event, filtered by type, property and state; one actor's snapshot and its timeline (its
 * audit entries: event, who sent it, state before and after, the vendor calls' answers among them). Redacted:
 * no PIN, card number or secret.
 */
import { sql } from 'kysely';
import { type Db, withTenant } from '../io/db/index.ts';
import { redact } from './inspection.ts';

export interface InspectedActor {
  type: string;
  id: string;
  propertyId: string | null;
  state: unknown;
  version: number;
  updatedAt: string;
  lastEvent: string | null;
}

export interface TimelineEntry {
  at: string;
  version: number;
  event: string;
  by: string;
  from: unknown;
  to: unknown;
  status: string;
  detail: unknown;
}

export interface InspectorStore {
  actors(
    tenantId: string,
    q: { type?: string; propertyId?: string; state?: string; limit: number },
  ): Promise<InspectedActor[]>;
  actor(
    tenantId: string,
    type: string,
    id: string,
  ): Promise<{ actor: InspectedActor; context: unknown; timeline: TimelineEntry[] } | null>;
}

type Row = {
  actor_type: string;
  actor_id: string;
  property_id: string | null;
  value: unknown;
  version: string;
  updated_at: Date;
  last_event: string | null;
};

const view = (r: Row): InspectedActor => ({
  type: r.actor_type,
  id: r.actor_id,
  propertyId: r.property_id,
  state: r.value,
  version: Number(r.version),
  updatedAt: r.updated_at.toISOString(),
  lastEvent: r.last_event,
});

export function createInspectorStore(db: Db): InspectorStore {
  const select = (where: ReturnType<typeof sql>, limit: number) => sql<Row>`
    select s.actor_type, s.actor_id, s.snapshot->'context'->>'propertyId' as property_id,
           s.snapshot->'value' as value, s.version, s.updated_at,
           (select (a.entry::jsonb)->>'event' from audit_log a
             where a.tenant_id = s.tenant_id and (a.entry::jsonb)->>'actor' = s.actor_type || '/' || s.actor_id
             order by a.seq desc limit 1) as last_event
      from actor_snapshots s
     where ${where}
     order by s.updated_at desc
     limit ${limit}`;
  return {
    async actors(tenantId, q) {
      const conditions = [sql`true`];
      if (q.type) conditions.push(sql`s.actor_type = ${q.type}`);
      if (q.propertyId) conditions.push(sql`s.snapshot->'context'->>'propertyId' = ${q.propertyId}`);
      // A state by its name at any level (`active`, or `closing` inside a grant's `revoking`).
      // The value as JSON text: a name is quoted at any level ("active", {"revoking":"closing"}).
      if (q.state)
        conditions.push(sql`position(${JSON.stringify(q.state)} in (s.snapshot->'value')::text) > 0`);
      const { rows } = await withTenant(db, tenantId, (tx) =>
        select(sql.join(conditions, sql` and `), Math.min(q.limit, 500)).execute(tx),
      );
      return rows.map(view);
    },
    async actor(tenantId, type, id) {
      return withTenant(db, tenantId, async (tx) => {
        const { rows } = await select(sql`s.actor_type = ${type} and s.actor_id = ${id}`, 1).execute(tx);
        const row = rows[0];
        if (!row) return null;
        const context = (
          await sql<{ context: unknown }>`
            select snapshot->'context' as context from actor_snapshots
             where actor_type = ${type} and actor_id = ${id}`.execute(tx)
        ).rows[0]?.context;
        const audit = await sql<{ entry: string }>`
          select entry from audit_log
           where tenant_id = ${tenantId} and (entry::jsonb)->>'actor' = ${`${type}/${id}`}
           order by seq desc limit 200`.execute(tx);
        const timeline = audit.rows
          .map((r) => JSON.parse(r.entry) as TimelineEntry & { detail?: unknown })
          .map((e) => ({
            at: e.at,
            version: e.version,
            event: e.event,
            by: e.by,
            from: e.from,
            to: e.to,
            status: e.status,
            detail: redact(e.detail ?? null),
          }))
          .reverse();
        return { actor: view(row), context: redact(context), timeline };
      });
    },
  };
}
