/**
 * POST /webhooks/v1/:vendor — outside /api/v1 (vendors do not hold our tokens). The raw body is kept
 * for the signature, limited to 64 KiB (413 beyond), verified, stored in the webhook inbox (deduplicated
 * by the vendor's event id), and only then acknowledged: 202 for a new event, 200 for a replay. Each
 * vendor has a rate limit (429 beyond; vendors retry).
 */
import type { FastifyPluginAsync } from 'fastify';
import { LockError } from '../../errors.ts';
import { VendorRateLimit } from './rateLimit.ts';
import { createVerifiers, type WebhookSecrets } from './verifiers.ts';

export interface WebhookInbox {
  /** True when stored now, false when the vendor's event id was already there. */
  store(vendor: string, eventId: string, body: unknown): Promise<boolean>;
}

export const WEBHOOK_BODY_LIMIT = 64 * 1024;

export function webhookRoutes(
  inbox: WebhookInbox,
  secrets: WebhookSecrets,
  limits: { perVendorPerSecond?: number } = {},
): FastifyPluginAsync {
  const verifiers = createVerifiers(secrets);
  const rate = new VendorRateLimit(limits.perVendorPerSecond ?? 20_000);
  return async (app) => {
    // Raw text for every content type: the signature covers the exact bytes.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    app.post<{ Params: { vendor: string }; Querystring: Record<string, string> }>(
      '/webhooks/v1/:vendor',
      { schema: { hide: true } },
      async (req, reply) => {
        const verify = verifiers[req.params.vendor];
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
