/**
 * Seam webhooks: Svix signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`, or the
 * `svix-*` names), verified by the official `@seamapi/webhook` (HMAC-SHA256, timestamp within 5 min).
 * The event id is the Svix message id.
 */
import { SeamWebhook } from 'seam';
import { LockError } from '../../../errors.ts';
import { unauthenticated, type WebhookVerifier } from '../webhook.ts';

export function seamWebhookVerifier(secret: string | undefined): WebhookVerifier {
  const seam = secret ? new SeamWebhook(secret) : null;
  return (raw, headers) => {
    if (!seam) throw unauthenticated('no Seam webhook secret is configured');
    const id = headers['webhook-id'] ?? headers['svix-id'];
    if (!id) throw unauthenticated('missing webhook-id');
    let body: unknown;
    try {
      body = seam.verify(raw, headers);
    } catch (e) {
      // Svix checks the signature first, then parses: a SyntaxError means signed but not JSON.
      if (e instanceof SyntaxError) throw new LockError('LOCK.VALIDATION', 'the webhook body is not JSON');
      throw unauthenticated('bad or expired Seam webhook signature');
    }
    if (typeof body !== 'object' || body === null) throw new LockError('LOCK.VALIDATION', 'not a Seam event');
    return { eventId: id, body };
  };
}
