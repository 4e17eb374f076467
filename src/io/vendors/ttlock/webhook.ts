/**
 * TTLock callbacks are unsigned: the callback URL carries a secret token (`?token=`), compared in
 * constant time. TTLock sends no event id, so the body's hash is the id (a resent callback is the same
 * bytes). What a callback reports is confirmed through the API (`lockRecord/list`) before it is acted on.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseJsonBody, unauthenticated, type WebhookVerifier } from '../webhook.ts';

export function ttlockWebhookVerifier(token: string | undefined): WebhookVerifier {
  const expected = token ? Buffer.from(token) : null;
  return (raw, _headers, query) => {
    const given = Buffer.from(query.token ?? '');
    if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected))
      throw unauthenticated('bad TTLock callback token');
    const body = raw.trimStart().startsWith('{')
      ? parseJsonBody(raw)
      : Object.fromEntries(new URLSearchParams(raw));
    return { eventId: createHash('sha256').update(raw).digest('hex'), body };
  };
}
