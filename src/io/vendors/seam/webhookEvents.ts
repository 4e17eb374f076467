/**
 * What a Seam event says about a device, as a lock-device report: connectivity and battery. Seam events
 * carry `event_type` and `device_id`; battery events carry `battery_level` (0–1). An access code that
 * Seam could not set on the device, or that someone deleted outside Seam, is a credential lost from its
 * lock. Anything else (access events) reports nothing yet. Seam signs its webhooks: the facts count as
 * they are.
 */
import type { WebhookFacts } from '../webhookFacts.ts';

export function seamWebhookFacts(body: unknown): WebhookFacts | null {
  if (typeof body !== 'object' || body === null) return null;
  const e = body as {
    occurred_at?: unknown;
    event_type?: unknown;
    device_id?: unknown;
    battery_level?: unknown;
    access_code_id?: unknown;
  };
  if (typeof e.device_id !== 'string' || typeof e.event_type !== 'string') return null;
  const ref = e.device_id;
  switch (e.event_type) {
    case 'device.connected':
      return { vendorDeviceRef: ref, report: { online: true } };
    case 'device.disconnected':
      return { vendorDeviceRef: ref, report: { online: false } };
    case 'device.low_battery':
    case 'device.battery_status_changed':
      return typeof e.battery_level === 'number' && e.battery_level >= 0 && e.battery_level <= 1
        ? { vendorDeviceRef: ref, report: { battery: Math.round(e.battery_level * 100) } }
        : null;
    case 'lock.unlocked':
      // An opening (any method); Seam signs its webhooks, so its time counts as reported.
      return typeof e.occurred_at === 'string' && !Number.isNaN(Date.parse(e.occurred_at))
        ? { vendorDeviceRef: ref, report: { accessAt: new Date(e.occurred_at).toISOString() } }
        : null;
    case 'access_code.failed_to_set_on_device':
    case 'access_code.deleted_external_to_seam':
      return typeof e.access_code_id === 'string'
        ? { vendorDeviceRef: ref, lostCredentialRef: e.access_code_id }
        : null;
    default:
      return null;
  }
}
