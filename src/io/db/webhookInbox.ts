/**
 * The webhook inbox writer: webhooks arriving together are inserted together (one multi-row INSERT …
 * ON CONFLICT DO NOTHING per batch, up to two batches in flight), so the ingress acknowledges thousands
 * per second without one round trip each. Each caller learns whether its event was new.
 */
import { sql } from 'kysely';
import type { Db } from './connect.ts';

interface Pending {
  vendor: string;
  eventId: string;
  body: string;
  resolve: (stored: boolean) => void;
  reject: (e: unknown) => void;
}

const MAX_BATCH = 500;

export function createWebhookInboxWriter(db: Db, maxConcurrent = 2) {
  let queue: Pending[] = [];
  let running = 0;

  async function write(batch: Pending[]): Promise<void> {
    try {
      const values = sql.join(batch.map((p) => sql`(${p.vendor}, ${p.eventId}, ${p.body}::jsonb)`));
      const { rows } = await sql<{ vendor: string; event_id: string }>`
        insert into webhook_inbox (vendor, event_id, body) values ${values}
        on conflict (vendor, event_id) do nothing
        returning vendor, event_id`.execute(db);
      const inserted = new Set(rows.map((r) => `${r.vendor}\u0000${r.event_id}`));
      // The same event twice in one batch: only its first caller stored it.
      for (const p of batch) {
        const key = `${p.vendor}\u0000${p.eventId}`;
        p.resolve(inserted.delete(key));
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }

  function pump(): void {
    while (running < maxConcurrent && queue.length > 0) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      running++;
      void write(batch).finally(() => {
        running--;
        pump();
      });
    }
  }

  return {
    /** True when stored now, false when the vendor's event id was already there. */
    store(vendor: string, eventId: string, body: unknown): Promise<boolean> {
      return new Promise((resolve, reject) => {
        queue.push({ vendor, eventId, body: JSON.stringify(body), resolve, reject });
        pump();
      });
    },
  };
}
