/**
 * POST /webhooks/v1/:vendor/:webhookId — outside /api/v1 (vendors do not hold our tokens). Each property
 * adapter has its own endpoint id and secret (`io/vendors/webhookEndpoints.ts`). In order:
 * 1. a token bucket per source address, before anything is read or looked up: an unauthenticated flood
 *    spends its own address's bucket, never a vendor's;
 * 2. the endpoint by id (404 when unknown or of another vendor);
 * 3. the raw body (64 KiB, 413 beyond) verified with that endpoint's secret (401, nothing stored);
 * 4. a token bucket per endpoint, after verification: one hotel's vendor cannot crowd out another's;
 * 5. stored in the webhook inbox with the endpoint's tenant and property (deduplicated per endpoint by the
 *    vendor's event id), and only then acknowledged: 202 for a new event, 200 for a replay. TTLock wants
 *    the body `success` (it retries otherwise), so its answers are that.
 */
import type { FastifyPluginAsync } from 'fastify';
import { LockError } from '../../errors.ts';
import { VendorRateLimit } from './rateLimit.ts';
import { webhookVerifier, webhookVendors } from '../../io/vendors/registry.ts';
import type { WebhookEndpoints } from '../../io/vendors/webhookEndpoints.ts';
import type { WebhookVerifier } from '../../io/vendors/webhook.ts';

export interface StoredWebhook {
  vendor: string;
  webhookId: string;
  tenantId: string;
  propertyId: string;
  eventId: string;
  body: unknown;
}

export interface WebhookInbox {
  /** True when stored now, false when the endpoint's event id was already there. */
  store(w: StoredWebhook): Promise<boolean>;
}

export const WEBHOOK_BODY_LIMIT = 64 * 1024;

/** Why a webhook was refused, by the status it was answered with. */
export type WebhookRefusal =
  'unauthenticated' | 'malformed' | 'too_large' | 'rate_limited' | 'unknown_vendor' | 'failed';

const REFUSAL_BY_STATUS: Record<number, WebhookRefusal> = {
  401: 'unauthenticated',
  404: 'unknown_vendor',
  413: 'too_large',
  429: 'rate_limited',
};

export interface WebhookRouteOptions {
  /** Webhooks a second from one source address, before verification (20,000). */
  perSourcePerSecond?: number;
  /** Verified webhooks a second per endpoint (20,000). */
  perEndpointPerSecond?: number;
  /**
   * Refused webhooks (401, 404) a second per source address (50, bursts of 100): past it the address is
   * answered 429 before anything is looked up, so guessing endpoint ids or secrets costs the guesser.
   */
  refusedPerSourcePerSecond?: number;
  /** Told of every refused webhook; `vendor` is 'unknown' for a path no vendor owns (bounded labels). */
  refused?: (vendor: string, reason: WebhookRefusal) => void;
}

export function webhookRoutes(
  inbox: WebhookInbox,
  endpoints: WebhookEndpoints,
  options: WebhookRouteOptions = {},
): FastifyPluginAsync {
  const vendors = new Set(webhookVendors);
  const perSource = new VendorRateLimit(options.perSourcePerSecond ?? 20_000);
  const perEndpoint = new VendorRateLimit(options.perEndpointPerSecond ?? 20_000);
  const refusedRate = options.refusedPerSourcePerSecond ?? 50;
  const refusedPerSource = new VendorRateLimit(refusedRate, refusedRate * 2);
  // One verifier per endpoint and secret (Seam's parses its whsec_ key once).
  const verifiers = new Map<string, { secret: string; verify: WebhookVerifier }>();
  const refused = options.refused;
  return async (app) => {
    if (refused)
      // On the response, so that refusals before the handler (413 while reading the body) count too.
      app.addHook('onResponse', async (req, reply) => {
        const status = reply.statusCode;
        if (status < 400) return;
        const vendor = (req.params as { vendor?: string }).vendor ?? '';
        const reason = status >= 500 ? 'failed' : (REFUSAL_BY_STATUS[status] ?? 'malformed');
        refused(vendors.has(vendor) ? vendor : 'unknown', reason);
      });
    // Before the body is read: a flood is refused without reading it.
    app.addHook('onRequest', async (req) => {
      if (!refusedPerSource.has(req.ip) || !perSource.take(req.ip))
        throw new LockError('LOCK.RATE_LIMITED', 'too many webhooks from this address; retry later');
    });
    app.addHook('onResponse', async (req, reply) => {
      if (reply.statusCode === 401 || reply.statusCode === 404) refusedPerSource.take(req.ip);
    });
    // Raw text for every content type: the signature covers the exact bytes.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    app.post<{ Params: { vendor: string; webhookId: string }; Querystring: Record<string, string> }>(
      '/webhooks/v1/:vendor/:webhookId',
      { schema: { hide: true } },
      async (req, reply) => {
        const { vendor, webhookId } = req.params;
        if (!vendors.has(vendor) || !/^[A-Za-z0-9_-]{16,64}$/.test(webhookId))
          throw new LockError('LOCK.NOT_FOUND', 'no such webhook endpoint');
        const endpoint = await endpoints.find(webhookId);
        if (!endpoint || endpoint.vendor !== vendor)
          throw new LockError('LOCK.NOT_FOUND', 'no such webhook endpoint');
        if (endpoint.secret === null)
          throw new LockError('LOCK.UNAUTHENTICATED', 'the endpoint has no secret');
        let v = verifiers.get(webhookId);
        if (!v || v.secret !== endpoint.secret) {
          v = { secret: endpoint.secret, verify: webhookVerifier(vendor, endpoint.secret) };
          verifiers.set(webhookId, v);
          if (verifiers.size > 10_000) verifiers.delete(verifiers.keys().next().value as string);
        }
        const raw = typeof req.body === 'string' ? req.body : '';
        // Node lower-cases header names; repeated headers (arrays) are not signature headers of any vendor.
        const { eventId, body } = v.verify(raw, req.headers as Record<string, string>, req.query ?? {});
        if (!perEndpoint.take(webhookId))
          throw new LockError('LOCK.RATE_LIMITED', 'too many webhooks for this endpoint; retry later');
        const stored = await inbox.store({
          vendor,
          webhookId,
          tenantId: endpoint.tenantId,
          propertyId: endpoint.propertyId,
          eventId,
          body,
        });
        if (vendor === 'ttlock') return reply.code(200).type('text/plain').send('success');
        return reply.code(stored ? 202 : 200).send({ received: true, duplicate: !stored });
      },
    );
  };
}
