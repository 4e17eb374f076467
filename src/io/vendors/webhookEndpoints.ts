/**
 * Each property adapter's webhook endpoint: an unguessable id in the URL (`/webhooks/v1/:vendor/:webhookId`)
 * and a secret of its own (Seam's Svix signing secret for that workspace; a TTLock callback token the
 * service makes), kept as the adapter's vendor secret `webhook`. The ingress finds the endpoint by id before
 * it knows the tenant (`lock_webhook_endpoint`), verifies with that endpoint's secret, and stores the webhook
 * with the endpoint's tenant and property: routing never leaves them.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { type Db, withTenant } from '../db/index.ts';
import { createRefreshingCache } from './refreshingCache.ts';
import type { SecretAddress, VendorSecretStore } from './vendorSecrets.ts';

export const WEBHOOK_SECRET_NAME = 'webhook';

export interface WebhookEndpoint {
  webhookId: string;
  tenantId: string;
  propertyId: string;
  vendor: string;
  /** The current secret; null before one is set. */
  secret: string | null;
}

export interface WebhookEndpoints {
  /** Creates the adapter's endpoint if it has none and makes `secret` its only secret; the endpoint's id. */
  set(a: SecretAddress, secret: string, by: string): Promise<string>;
  /**
   * The endpoint of a webhook id, or null. Endpoints found are cached for `cacheMs` and read again ahead of
   * expiry, once for all the webhooks arriving meanwhile (`refreshingCache.ts`): the ingress asks for every
   * webhook. Ids that match none are not kept: made-up ids cannot fill the cache (the ingress's budget for
   * refused requests bounds how often one reaches the database).
   */
  find(webhookId: string): Promise<WebhookEndpoint | null>;
}

export function createWebhookEndpoints(
  db: Db,
  secrets: VendorSecretStore,
  o: { cacheMs?: number; now?: () => number } = {},
): WebhookEndpoints {
  const cacheMs = o.cacheMs ?? 5000;
  const now = o.now ?? (() => Date.now());
  const cache = createRefreshingCache<WebhookEndpoint | null>({
    clock: { now: () => new Date(now()) },
    ttlMs: cacheMs,
    keep: (e) => e !== null,
  });

  async function load(webhookId: string): Promise<WebhookEndpoint | null> {
    const { rows } = await sql<{
      tenant_id: string;
      property_id: string;
      vendor: string;
      version: number | null;
      sealed: string | null;
    }>`select * from lock_webhook_endpoint(${webhookId})`.execute(db);
    const r = rows[0];
    if (!r) return null;
    const address = { tenantId: r.tenant_id, propertyId: r.property_id, vendor: r.vendor };
    const secret =
      r.version !== null && r.sealed !== null
        ? await secrets.open(address, WEBHOOK_SECRET_NAME, r.version, r.sealed)
        : null;
    return { webhookId, ...address, secret };
  }

  return {
    async set(a, secret, by) {
      const candidate = randomBytes(16).toString('base64url');
      const webhookId = await withTenant(db, a.tenantId, async (tx) => {
        await tx
          .insertInto('webhook_endpoints')
          .values({ id: candidate, tenant_id: a.tenantId, property_id: a.propertyId, vendor: a.vendor })
          .onConflict((c) => c.columns(['tenant_id', 'property_id', 'vendor']).doNothing())
          .execute();
        const row = await tx
          .selectFrom('webhook_endpoints')
          .select('id')
          .where('property_id', '=', a.propertyId)
          .where('vendor', '=', a.vendor)
          .executeTakeFirstOrThrow();
        return row.id;
      });
      const { version } = await secrets.put(a, WEBHOOK_SECRET_NAME, secret, by);
      // The vendor is told the new secret at the same moment: the old one is of no further use.
      await secrets.destroyOlder(a, { [WEBHOOK_SECRET_NAME]: version });
      cache.invalidate((k) => k === webhookId);
      return webhookId;
    },
    find(webhookId) {
      return cache.get(webhookId, () => load(webhookId));
    },
  };
}
