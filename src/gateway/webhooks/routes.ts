/**
 * POST /webhooks/v1/:vendor — outside /api/v1 (vendors do not hold our tokens). The raw body is kept
 * for the signature, limited to 64 KiB (413 beyond), verified, stored in the webhook inbox (deduplicated
 * by the vendor's event id), and only then acknowledged: 202 for a new event, 200 for a replay. Each
 * vendor has a rate limit (429 beyond; vendors retry).
 */
import type { FastifyPluginAsync } from 'fastify';
import { LockError } from '../../errors.ts';
import { VendorRateLimit } from './rateLimit.ts';
import { type WebhookSecrets, webhookVerifiers } from '../../io/vendors/registry.ts';

export interface WebhookInbox {
  /** True when stored now, false when the vendor's event id was already there. */
  store(vendor: string, eventId: string, body: unknown): Promise<boolean>;
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
  perVendorPerSecond?: number;
  /** Told of every refused webhook; `vendor` is 'unknown' for a path no vendor owns (bounded labels). */
  refused?: (vendor: string, reason: WebhookRefusal) => void;
}

export function webhookRoutes(
  inbox: WebhookInbox,
  secrets: WebhookSecrets,
  options: WebhookRouteOptions = {},
): FastifyPluginAsync {
  const verifiers = webhookVerifiers(secrets);
  const rate = new VendorRateLimit(options.perVendorPerSecond ?? 20_000);
  const refused = options.refused;
  return async (app) => {
    if (refused)
      // On the response, so that refusals before the handler (413 while reading the body) count too.
      app.addHook('onResponse', async (req, reply) => {
        const status = reply.statusCode;
        if (status < 400) return;
        const vendor = (req.params as { vendor?: string }).vendor ?? '';
        const reason = status >= 500 ? 'failed' : (REFUSAL_BY_STATUS[status] ?? 'malformed');
        refused(verifiers.has(vendor) ? vendor : 'unknown', reason);
      });
    // Raw text for every content type: the signature covers the exact bytes.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    app.post<{ Params: { vendor: string }; Querystring: Record<string, string> }>(
      '/webhooks/v1/:vendor',
      { schema: { hide: true } },
      async (req, reply) => {
        const verify = verifiers.get(req.params.vendor);
        if (!verify) throw new LockError('LOCK.NOT_FOUND', `no webhooks for vendor ${req.params.vendor}`);
        if (!rate.take(req.params.vendor))
          throw new LockError('LOCK.RATE_LIMITED', `too many ${req.params.vendor} webhooks; retry later`);
        const raw = typeof req.body === 'string' ? req.body : '';
        // Node lower-cases header names; repeated headers (arrays) are not signature headers of any vendor.
        const { eventId, body } = verify(raw, req.headers as Record<string, string>, req.query ?? {});
        const stored = await inbox.store(req.params.vendor, eventId, body);
        return reply.code(stored ? 202 : 200).send({ received: true, duplicate: !stored });
      },
    );
  };
}
