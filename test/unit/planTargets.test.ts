/**
 * Which lock a room's grant goes to. Physical truth first: only a lock in the room counts. A provisional
 * adapter (a vendor switch's pilot) is never preferred by policy over an enabled vendor's lock in the same
 * room, is used where it holds the room's only lock (the pilot room, cut over), and is preferred when named.
 */
import { describe, expect, it } from 'vitest';
import { planTargets } from '../../src/readModel/planTargets.ts';

const device = (id: string, roomId: string, vendor: string) => ({
  id,
  roomId,
  vendor,
  vendorDeviceRef: id,
  status: 'active',
});
const base = {
  kind: 'pin' as const,
  policy: { pin: { preferredOrder: ['salto-ks', 'ttlock'] } },
  enabledVendors: new Set(['ttlock']),
  provisionalVendors: new Set(['salto-ks']),
  supportsKind: () => true,
  needsHolderDetail: () => false,
  hasHolderDetail: false,
};

describe('plan targets', () => {
  it('plan: an enabled lock in the room wins over a provisional one, even one the policy prefers', () => {
    const p = planTargets({
      ...base,
      rooms: ['101'],
      devices: [device('old', '101', 'ttlock'), device('new', '101', 'salto-ks')],
    });
    expect(p.targets.map((t) => t.lockDeviceId)).toEqual(['old']);
  });

  it("plan: a room whose only lock is on a provisional adapter uses it; another room's enabled lock is untouched", () => {
    const p = planTargets({
      ...base,
      rooms: ['101', '102'],
      devices: [device('pilot', '101', 'salto-ks'), device('other', '102', 'ttlock')],
    });
    expect(p.targets.map((t) => t.lockDeviceId)).toEqual(['pilot', 'other']);
    expect(p.unresolved).toEqual([]);
  });

  it('plan: a provisional vendor named by the request is preferred where it has a lock', () => {
    const p = planTargets({
      ...base,
      enabledVendors: new Set(['ttlock', 'salto-ks']),
      preferVendors: ['salto-ks'],
      rooms: ['101'],
      devices: [device('old', '101', 'ttlock'), device('new', '101', 'salto-ks')],
    });
    expect(p.targets.map((t) => t.lockDeviceId)).toEqual(['new']);
  });

  it('plan: a room with no active lock of an enabled or provisional vendor is unresolved', () => {
    const p = planTargets({
      ...base,
      provisionalVendors: new Set(),
      rooms: ['101'],
      devices: [device('new', '101', 'salto-ks')],
    });
    expect(p.unresolved).toEqual([{ roomId: '101', code: 'VENDOR_NOT_ENABLED' }]);
  });
});
