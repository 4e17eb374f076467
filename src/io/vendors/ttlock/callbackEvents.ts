/**
 * What a stored TTLock callback claims: access records of a lock (notifyType 1), to be confirmed through
 * `lockRecord/list` before they count, or that a passcode never reached its lock (notifyType 4, objectType
 * 2: the gateway's asynchronous failure). Other notices (gateway and WiFi online/offline, door sensors)
 * are not acted on.
 */
import type { WebhookFacts } from '../webhookFacts.ts';
import type { TtlockCallback } from './webhook.ts';
import { recordMethod } from './wire.ts';

const PASSCODE_OBJECT = 2;

export function ttlockCallbackFacts(body: unknown): WebhookFacts | null {
  if (typeof body !== 'object' || body === null) return null;
  const c = body as TtlockCallback;
  // Only a string or a number is a lock id (an object's own toString is not to be called).
  const lockId = typeof c.lockId === 'string' || typeof c.lockId === 'number' ? String(c.lockId) : '';
  if (!/^\d+$/.test(lockId)) return null;
  if (c.notifyType === 1 && Array.isArray(c.records)) {
    const claimed = c.records.flatMap((r) =>
      typeof r.lockDate === 'number' && typeof r.recordType === 'number'
        ? [{ at: r.lockDate, method: recordMethod(r.recordType), success: r.success === 1 }]
        : [],
    );
    return claimed.length > 0 ? { vendorDeviceRef: lockId, claimedRecords: claimed } : null;
  }
  if (
    c.notifyType === 4 &&
    (c.objectType === PASSCODE_OBJECT || c.objectType === String(PASSCODE_OBJECT)) &&
    (typeof c.objectId === 'string' || typeof c.objectId === 'number') &&
    /^\d+$/.test(String(c.objectId))
  )
    return { vendorDeviceRef: lockId, lostCredentialRef: String(c.objectId) };
  return null;
}
