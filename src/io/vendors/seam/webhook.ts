/**
 * Seam webhooks: Svix signatures (`svix-*` or `webhook-*` headers), verified as the official
 * `@seamapi/webhook` does (`svixSignature.ts`: HMAC-SHA256, timestamp within 5 min). The event id is the
 * Svix message id.
 */
import { LockError } from '../../../errors.ts';
import { unauthenticated, type WebhookVerifier } from '../webhook.ts';
import { createSvixVerifier } from './svixSignature.ts';

export function seamWebhookVerifier(secret: string | undefined): WebhookVerifier {
  const svix = secret ? createSvixVerifier(secret) : null;
  return (raw, headers) => {
    if (!svix) throw unauthenticated('no Seam webhook secret is configured');
    const id = headers['svix-id'] ?? headers['webhook-id'];
    if (!id) throw unauthenticated('missing webhook-id');
    let body: unknown;
    try {
      body = svix.verify(raw, headers);
    } catch (e) {
      // The signature is checked first, then the body parsed: a SyntaxError means signed but not JSON.
      if (e instanceof SyntaxError) throw new LockError('LOCK.VALIDATION', 'the webhook body is not JSON');
      throw unauthenticated('bad or expired Seam webhook signature');
    }
    if (typeof body !== 'object' || body === null) throw new LockError('LOCK.VALIDATION', 'not a Seam event');
    return { eventId: id, body };
  };
}
