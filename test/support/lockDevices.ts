/** A Seam lock device registered straight through the actor mailbox (no REST), for routing tests. */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { Harness } from './harness.ts';

export async function registerSeamDevice(
  h: Harness,
  o: { tenantId?: string; propertyId?: string; ref?: string } = {},
) {
  const tenantId = o.tenantId ?? `t-${randomUUID().slice(0, 8)}`;
  const propertyId = o.propertyId ?? 'p1';
  const deviceId = randomUUID();
  const ref = o.ref ?? `seam_device_${randomUUID().slice(0, 8)}`;
  const registered = await h.service.mailbox.sendAndWait(
    { type: 'lockDevice', id: deviceId },
    {
      tenantId,
      event: {
        type: 'lockDevice.register',
        at: new Date().toISOString(),
        propertyId,
        roomId: '301',
        vendor: 'seam',
        vendorDeviceRef: ref,
        areas: [],
      } as { type: string; at: string },
    },
    `${deviceId}:register`,
    (n) => n.version >= 1,
    10_000,
  );
  expect(registered?.version).toBe(1);
  return { tenantId, propertyId, deviceId, ref };
}
