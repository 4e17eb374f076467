/**
 * Why each capability an adapter declares is believed: `documented` (the vendor's public documentation, or
 * public working clients of the vendor's API, says so) or `modelled` (no public source: the adapter and its
 * simulator assume it, and it must be confirmed with the vendor). A capability an adapter does not declare is
 * unsupported and has no entry. docs/vendors/README.md renders this with the matrix; a test holds both to
 * the adapters' declarations.
 */
import type { VendorCapabilities } from './port.ts';

export type Basis = 'documented' | 'modelled';
export interface Evidence {
  basis: Basis;
  source: string;
}

/** The matrix's columns: the kinds as a whole, and each flag. */
export const CAPABILITY_COLUMNS = [
  'kinds',
  'updateValidityInPlace',
  'remoteUnlock',
  'battery',
  'callerChosenPin',
  'accessRecords',
  'cardNumbers',
  'mobileKeyRecipients',
] as const satisfies readonly (keyof VendorCapabilities)[];
export type CapabilityColumn = (typeof CAPABILITY_COLUMNS)[number];

const TTLOCK = 'TTLock Open Platform API (euopen.ttlock.com/doc/api/v3; reference/vendors.md §1)';
const KS = 'Salto KS Connect API guides and the ssantos-micronet/saltoKS client (reference/vendors.md §2.1)';
const SHIP = 'public SHIP clients (iscweb ISaltoSisService, mgradob Commands; reference/vendors.md §2.2)';
const SEAM = 'Seam API reference (docs.seam.co) and seamapi/types';
const VOSTIO =
  'no public Vostio API reference: modelled on the design card, to confirm with ASSA ABLOY partner docs';

export const capabilityEvidence: Record<string, Partial<Record<CapabilityColumn, Evidence>>> = {
  ttlock: {
    kinds: { basis: 'documented', source: `${TTLOCK}: keyboardPwd/add, identityCard/add, key/send` },
    updateValidityInPlace: {
      basis: 'documented',
      source: `${TTLOCK}: keyboardPwd/change, identityCard/changePeriod, key/changePeriod`,
    },
    remoteUnlock: { basis: 'documented', source: `${TTLOCK}: lock/unlock (through a gateway)` },
    battery: { basis: 'documented', source: `${TTLOCK}: lock/queryElectricQuantity` },
    callerChosenPin: { basis: 'documented', source: `${TTLOCK}: keyboardPwd/add (custom passcode)` },
    accessRecords: { basis: 'documented', source: `${TTLOCK}: lockRecord/list` },
    cardNumbers: { basis: 'documented', source: `${TTLOCK}: identityCard/add (cardNumber)` },
    mobileKeyRecipients: { basis: 'documented', source: `${TTLOCK}: key/send (receiverUsername)` },
  },
  'salto-ks': {
    kinds: { basis: 'documented', source: `${KS}: PUT users/{id}/pin` },
    updateValidityInPlace: {
      basis: 'documented',
      source: `${KS}: PATCH access_groups/{id}/time_schedules/{id}`,
    },
  },
  'salto-space': {
    kinds: { basis: 'documented', source: `${SHIP}: Encoder.SaltoDBUser.AssignNewKey` },
    remoteUnlock: { basis: 'documented', source: `${SHIP}: OnlineDoor.Open` },
  },
  vostio: {
    kinds: { basis: 'modelled', source: VOSTIO },
    updateValidityInPlace: { basis: 'modelled', source: VOSTIO },
    remoteUnlock: { basis: 'modelled', source: VOSTIO },
    battery: { basis: 'modelled', source: VOSTIO },
  },
  seam: {
    kinds: { basis: 'documented', source: `${SEAM}: access_codes/create` },
    updateValidityInPlace: { basis: 'documented', source: `${SEAM}: access_codes/update` },
    remoteUnlock: { basis: 'documented', source: `${SEAM}: locks/unlock_door (where can_remotely_unlock)` },
    battery: { basis: 'documented', source: `${SEAM}: device properties.battery_level` },
    callerChosenPin: { basis: 'documented', source: `${SEAM}: access_codes/create (code)` },
  },
  'generic-wiegand': {
    kinds: {
      basis: 'documented',
      source:
        'Wiegand card formats H10301, H10306, H10302, H10304, C1k35s (HID; Proxmark3 wiegand_formats.c; reference/vendors.md §4.2), written by a desk encoder',
    },
    updateValidityInPlace: {
      basis: 'modelled',
      source:
        'a Wiegand card carries only its facility code and number: a new window changes nothing on the card (the door controller is not reached)',
    },
    cardNumbers: {
      basis: 'documented',
      source:
        "the caller's card number becomes the card's data in the property's format and facility code (reference/vendors.md §4.2)",
    },
  },
};

/** Whether a column applies to a vendor at all (a caller-chosen PIN is moot where no PINs are issued). */
export function applies(c: VendorCapabilities, column: CapabilityColumn): boolean {
  return column !== 'callerChosenPin' || c.kinds.includes('pin');
}

/** A capability's matrix cell: `yes (documented)`, `yes (modelled)`, `no`, or `n/a`. */
export function cell(c: VendorCapabilities, column: CapabilityColumn): string {
  if (!applies(c, column)) return 'n/a';
  const e = capabilityEvidence[c.vendor]?.[column];
  if (column === 'kinds') return `${c.kinds.join(', ')} (${e?.basis ?? 'unsourced'})`;
  return c[column] ? `yes (${e?.basis ?? 'unsourced'})` : 'no';
}
