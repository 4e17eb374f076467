/**
 * The webhook inbox writer: webhooks arriving together are inserted together (one multi-row INSERT …
 * ON CONFLICT DO NOTHING per batch, up to two batches in flight), so the ingress acknowledges thousands
 * per second without one round trip each. Each caller learns whether its event was new.
 */
import { sql } from 'kysely';
import type { Db } from './connect.ts';
import { MicroBatcher } from './microBatcher.ts';

interface Webhook {
  vendor: string;
  eventId: string;
  body: string;
}

async function insert(db: Db, batch: Webhook[]): Promise<boolean[]> {
  const values = sql.join(batch.map((p) => sql`(${p.vendor}, ${p.eventId}, ${p.body}::jsonb)`));
  const { rows } = await sql<{ vendor: string; event_id: string }>`
    insert into webhook_inbox (vendor, event_id, body) values ${values}
    on conflict (vendor, event_id) do nothing
    returning vendor, event_id`.execute(db);
  const inserted = new Set(rows.map((r) => `${r.vendor}\u0000${r.event_id}`));
  // The same event twice in one batch: only its first caller stored it.
  return batch.map((p) => inserted.delete(`${p.vendor}\u0000${p.eventId}`));
}

export function createWebhookInboxWriter(db: Db, maxConcurrent = 2) {
  const batcher = new MicroBatcher<Webhook, boolean>((batch) => insert(db, batch), 500, maxConcurrent);
  return {
    /** True when stored now, false when the vendor's event id was already there. */
    store(vendor: string, eventId: string, body: unknown): Promise<boolean> {
      return batcher.submit({ vendor, eventId, body: JSON.stringify(body) });
    },
  };
}
