/**
 * TTLock callbacks are unsigned: the callback URL carries a secret token (`?token=`), compared in
 * constant time. Bodies are form posts whose `records` field is a JSON array in a string. Records carry
 * the passcode or card number used (`keyboardPwd`): it is removed before anything is stored. TTLock sends
 * no event id, so the id is the hash of the stored (redacted) body: a resent callback is the same. What a
 * callback reports is confirmed through the API (`lockRecord/list`) before it is acted on.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { LockError } from '../../../errors.ts';
import { parseJsonBody, unauthenticated, type WebhookVerifier } from '../webhook.ts';

/** A TTLock callback as stored: `records` parsed, passcodes and card numbers removed. */
export interface TtlockCallback {
  notifyType?: number;
  lockId?: string;
  records?: Record<string, unknown>[];
  [field: string]: unknown;
}

const SECRET_FIELDS = new Set(['keyboardPwd']);

function withoutSecrets(record: unknown): Record<string, unknown> {
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    throw new LockError('LOCK.VALIDATION', 'a TTLock record is not an object');
  return Object.fromEntries(Object.entries(record).filter(([k]) => !SECRET_FIELDS.has(k)));
}

/** The stored form of a callback body (form or JSON). */
export function ttlockCallback(raw: string): TtlockCallback {
  const fields = raw.trimStart().startsWith('{')
    ? parseJsonBody(raw)
    : Object.fromEntries(new URLSearchParams(raw));
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
    throw new LockError('LOCK.VALIDATION', 'not a TTLock callback');
  const out: TtlockCallback = { ...(withoutSecrets(fields) as TtlockCallback) };
  if ('notifyType' in fields) {
    const n = (fields as { notifyType: unknown }).notifyType;
    // Numbers and digit strings only: Number() of an object would call whatever it names toString.
    out.notifyType = typeof n === 'number' || (typeof n === 'string' && /^\d{1,3}$/.test(n)) ? Number(n) : -1;
  }
  const records = (fields as { records?: unknown }).records;
  if (records !== undefined) {
    const list = typeof records === 'string' ? parseJsonBody(records) : records;
    if (!Array.isArray(list)) throw new LockError('LOCK.VALIDATION', 'TTLock records is not an array');
    out.records = list.map(withoutSecrets);
  }
  return out;
}

export function ttlockWebhookVerifier(token: string | undefined): WebhookVerifier {
  const expected = token ? Buffer.from(token) : null;
  return (raw, _headers, query) => {
    const given = Buffer.from(query.token ?? '');
    if (!expected || given.length !== expected.length || !timingSafeEqual(given, expected))
      throw unauthenticated('bad TTLock callback token');
    const body = ttlockCallback(raw);
    // Hash of the redacted body: an id from the raw bytes would let the passcode be guessed from it.
    return { eventId: createHash('sha256').update(JSON.stringify(body)).digest('hex'), body };
  };
}
