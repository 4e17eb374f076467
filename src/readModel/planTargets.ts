/**
 * Which lock device and vendor each room of a credential uses. "Physical truth" first: only a device
 * actually in the room counts; among several (a room mid-cutover), the key-kind policy's preferredOrder
 * decides. Pure.
 */
import type { GrantTarget, KeyKind, KeyKindPolicy } from '../machines/index.ts';

export interface DeviceInRoom {
  id: string;
  roomId: string;
  vendor: string;
  vendorDeviceRef: string;
  status: string;
}

export interface PlanInput {
  rooms: string[];
  kind: KeyKind;
  devices: DeviceInRoom[];
  policy: KeyKindPolicy;
  enabledVendors: Set<string>;
  supportsKind: (vendor: string, kind: KeyKind) => boolean;
  /**
   * The vendor needs a detail from the caller for this kind: a card's number (cards registered by number)
   * or the guest's app account (mobile keys sent to app accounts).
   */
  needsHolderDetail: (vendor: string, kind: KeyKind) => boolean;
  /** The request brings that detail. */
  hasHolderDetail: boolean;
  /** Vendors the request names (a pilot on a provisional adapter): chosen before the policy's order. */
  preferVendors?: string[];
  /**
   * The property's provisional adapters: used for a room whose every active lock is on one (a vendor switch's
   * pilot room, cut over to the new vendor) — physical truth wins — and never chosen otherwise.
   */
  provisionalVendors?: Set<string>;
}

/** A room no grant can be planned for, and why. */
export interface UnresolvedRoom {
  roomId: string;
  code:
    | 'NO_LOCK_FOR_ROOM'
    | 'VENDOR_NOT_ENABLED'
    | 'KIND_NOT_SUPPORTED'
    | 'CARD_NUMBER_REQUIRED'
    | 'RECIPIENT_REQUIRED';
}

export interface Plan {
  targets: GrantTarget[];
  unresolved: UnresolvedRoom[];
}

export function planTargets(i: PlanInput): Plan {
  const order = [...(i.preferVendors ?? []), ...(i.policy[i.kind]?.preferredOrder ?? [])];
  const rank = (vendor: string) => {
    const r = order.indexOf(vendor);
    return r < 0 ? order.length : r;
  };
  const plan: Plan = { targets: [], unresolved: [] };
  for (const roomId of [...new Set(i.rooms)]) {
    const inRoom = i.devices.filter((d) => d.roomId === roomId && d.status === 'active');
    if (inRoom.length === 0) {
      plan.unresolved.push({ roomId, code: 'NO_LOCK_FOR_ROOM' });
      continue;
    }
    const enabledHere = inRoom.filter((d) => i.enabledVendors.has(d.vendor));
    const enabled =
      enabledHere.length > 0 ? enabledHere : inRoom.filter((d) => i.provisionalVendors?.has(d.vendor));
    if (enabled.length === 0) {
      plan.unresolved.push({ roomId, code: 'VENDOR_NOT_ENABLED' });
      continue;
    }
    const kindCapable = enabled.filter((d) => i.supportsKind(d.vendor, i.kind));
    const detailMissing = (vendor: string) => !i.hasHolderDetail && i.needsHolderDetail(vendor, i.kind);
    const capable = kindCapable.filter((d) => !detailMissing(d.vendor));
    const chosen = capable.sort((a, b) => rank(a.vendor) - rank(b.vendor) || a.id.localeCompare(b.id))[0];
    if (!chosen) {
      plan.unresolved.push({
        roomId,
        code:
          kindCapable.length === 0
            ? 'KIND_NOT_SUPPORTED'
            : i.kind === 'card'
              ? 'CARD_NUMBER_REQUIRED'
              : 'RECIPIENT_REQUIRED',
      });
      continue;
    }
    plan.targets.push({
      roomId,
      lockDeviceId: chosen.id,
      vendor: chosen.vendor,
      vendorDeviceRef: chosen.vendorDeviceRef,
    });
  }
  return plan;
}
