/** What a vendor's webhook verifier gives the ingress: the vendor's event id and the parsed body. */
import { LockError } from '../../errors.ts';

export interface VerifiedWebhook {
  eventId: string;
  body: unknown;
}

/**
 * Verifies the raw body; throws LOCK.UNAUTHENTICATED for a missing or wrong signature/token (nothing is
 * stored), LOCK.VALIDATION for a verified but unreadable body.
 */
export type WebhookVerifier = (
  raw: string,
  headers: Record<string, string>,
  query: Record<string, string>,
) => VerifiedWebhook;

export const unauthenticated = (detail: string) => new LockError('LOCK.UNAUTHENTICATED', detail);

export function parseJsonBody(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new LockError('LOCK.VALIDATION', 'the webhook body is not JSON');
  }
}
