/** What each vendor's webhook says, in the router's terms (pure interpreters of stored bodies). */
import { describe, expect, it } from 'vitest';
import { seamWebhookFacts } from '../../src/io/vendors/seam/webhookEvents.ts';
import { ttlockCallbackFacts } from '../../src/io/vendors/ttlock/callbackEvents.ts';
import { ttlockCallback } from '../../src/io/vendors/ttlock/webhook.ts';

describe('webhook facts', () => {
  it('seam: connectivity and battery are device reports; a code lost from the device names its credential', () => {
    expect(seamWebhookFacts({ event_type: 'device.disconnected', device_id: 'd1' })).toEqual({
      vendorDeviceRef: 'd1',
      report: { online: false },
    });
    expect(
      seamWebhookFacts({ event_type: 'device.low_battery', device_id: 'd1', battery_level: 0.125 }),
    ).toEqual({
      vendorDeviceRef: 'd1',
      report: { battery: 13 },
    });
    expect(
      seamWebhookFacts({
        event_type: 'access_code.failed_to_set_on_device',
        device_id: 'd1',
        access_code_id: 'ac1',
      }),
    ).toEqual({ vendorDeviceRef: 'd1', lostCredentialRef: 'ac1' });
    expect(
      seamWebhookFacts({ event_type: 'device.low_battery', device_id: 'd1', battery_level: 7 }),
    ).toBeNull();
    expect(
      seamWebhookFacts({ event_type: 'lock.unlocked', device_id: 'd1', occurred_at: '2026-12-01T15:00:00Z' }),
    ).toEqual({ vendorDeviceRef: 'd1', report: { accessAt: '2026-12-01T15:00:00.000Z' } });
    expect(seamWebhookFacts({ event_type: 'lock.unlocked', device_id: 'd1' })).toBeNull();
    expect(
      seamWebhookFacts({ event_type: 'lock.locked', device_id: 'd1', occurred_at: '2026-12-01T15:00:00Z' }),
    ).toBeNull();
  });

  it('ttlock: records are claims to confirm; notice 4 on a passcode names it; other notices say nothing', () => {
    const records = JSON.stringify([
      { lockDate: 1_700_000_000_000, recordType: 4, success: 1, keyboardPwd: '1234' },
    ]);
    const body = ttlockCallback(`notifyType=1&lockId=7001&records=${encodeURIComponent(records)}`);
    expect(ttlockCallbackFacts(body)).toEqual({
      vendorDeviceRef: '7001',
      claimedRecords: [{ at: 1_700_000_000_000, method: 'pin', success: true }],
    });
    expect(
      ttlockCallbackFacts(ttlockCallback('notifyType=4&lockId=7001&objectType=2&objectId=55&errcode=-3008')),
    ).toEqual({
      vendorDeviceRef: '7001',
      lostCredentialRef: '55',
    });
    // A fingerprint (objectType 4) is not a credential this service issues.
    expect(
      ttlockCallbackFacts(ttlockCallback('notifyType=4&lockId=7001&objectType=4&objectId=55')),
    ).toBeNull();
    expect(ttlockCallbackFacts(ttlockCallback('notifyType=3&lockId=7001&isOnline=0'))).toBeNull();
  });
});
