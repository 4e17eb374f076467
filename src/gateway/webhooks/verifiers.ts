/** The webhook verifier of each vendor that sends webhooks (each lives with its adapter). */
import { seamWebhookVerifier } from '../../io/vendors/seam/webhook.ts';
import { ttlockWebhookVerifier } from '../../io/vendors/ttlock/webhook.ts';
import type { WebhookVerifier } from '../../io/vendors/webhook.ts';

export interface WebhookSecrets {
  /** Svix signing secret (`whsec_…`) of the Seam webhook. */
  seam?: string;
  /** The token in TTLock's callback URL. */
  ttlock?: string;
}

export function createVerifiers(secrets: WebhookSecrets): Record<string, WebhookVerifier> {
  return { seam: seamWebhookVerifier(secrets.seam), ttlock: ttlockWebhookVerifier(secrets.ttlock) };
}
