/**
 * Turns a request for a credential (REST or platform event) into the actor's `credential.issue` event:
 * resolves each room to its lock (read model), generates and seals the PIN. The PIN leaves here twice:
 * sealed in the event, and in plaintext to the caller that will return it once.
 */
import { randomInt } from 'node:crypto';
import { LockError } from '../errors.ts';
import type { SecretBox } from '../io/crypto/secretBox.ts';
import {
  adapterStatus,
  type IssueCredentialEvent,
  type KeyKind,
  type RetryPolicy,
} from '../machines/index.ts';
import { type IssueContext, planTargets, type ReadModel } from '../readModel/index.ts';

/** What a caller asks for: the issue event's description of the credential, and the tenant. */
export type CredentialRequest = Pick<
  IssueCredentialEvent,
  'propertyId' | 'reservationId' | 'holder' | 'kind' | 'rooms' | 'areas' | 'validFrom' | 'validUntil'
> & {
  tenantId: string;
  /** A card's number, for vendors that register cards by number (never logged; sealed into the event). */
  cardNumber?: string;
  /** The guest's app account, for vendors that send mobile keys to accounts (never logged; sealed). */
  recipient?: string;
  /** Provisional adapters (a pilot) this request may be issued on; never chosen otherwise. */
  provisionalVendors?: string[];
};

export interface IssuanceDeps {
  readModel: ReadModel;
  secrets: SecretBox;
  supportsKind: (vendor: string, kind: KeyKind) => boolean;
  needsHolderDetail: (vendor: string, kind: KeyKind) => boolean;
  retry?: RetryPolicy;
  pinDigits?: number;
  /** PIN source; tests make it predictable. */
  generatePin?: (digits: number) => string;
}

/** Alternates carried (sealed) with each PIN credential: used, in order, if a lock already has the PIN. */
export const SPARE_PINS = 2;

export interface PreparedIssue {
  event: IssueCredentialEvent;
  /** The PIN, then its spares: the credential's `pinIndex` says which one the locks hold. */
  pins: string[];
}

/** A PIN and its spares, distinct, for a PIN credential; none for other kinds. */
export function newPins(d: Pick<IssuanceDeps, 'generatePin' | 'pinDigits'>, kind: KeyKind): string[] {
  const pins: string[] = [];
  if (kind !== 'pin') return pins;
  const make = d.generatePin ?? generatePin;
  while (pins.length < 1 + SPARE_PINS) {
    const candidate = make(d.pinDigits ?? 6);
    if (!pins.includes(candidate)) pins.push(candidate);
  }
  return pins;
}

/** Which lock each of the request's rooms goes to (planRooms for this request). */
export function planIssue(d: IssuanceDeps, r: CredentialRequest) {
  return planRooms(d, r.tenantId, r.propertyId, r.rooms, r.kind, planOptions(r));
}

/** planIssue from a context already read (a REST issue's, read with its idempotency claim or kept from one). */
export function planIssueIn(d: IssuanceDeps, r: CredentialRequest, ctx: IssueContext) {
  return planInContext(d, ctx, r.propertyId, r.rooms, r.kind, planOptions(r));
}

const planOptions = (r: CredentialRequest) => ({
  hasHolderDetail: !!holderDetail(r),
  ...(r.provisionalVendors ? { provisionalVendors: r.provisionalVendors } : {}),
});

/**
 * Prepares the issue event; throws LOCK.PROPERTY_NOT_FOUND for an unknown (or other tenant's) property.
 * `pins` are the PIN and spares to use (a REST retry reuses the first attempt's); new ones otherwise.
 */

export async function prepareIssue(
  d: IssuanceDeps,
  r: CredentialRequest,
  at: string,
  pins: string[] = newPins(d, r.kind),
  /** The plan, when the caller started it earlier (beside its idempotency claim). */
  planned: ReturnType<typeof planIssue> | ReturnType<typeof planIssueIn> = planIssue(d, r),
): Promise<PreparedIssue> {
  const detail = holderDetail(r);
  const { plan } = await planned;
  const [pin, ...spares] = pins;
  return {
    pins,
    event: {
      type: 'credential.issue',
      at,
      propertyId: r.propertyId,
      reservationId: r.reservationId,
      holder: r.holder,
      kind: r.kind,
      rooms: r.rooms,
      areas: r.areas,
      validFrom: r.validFrom,
      validUntil: r.validUntil,
      secret: pin ? d.secrets.seal(pin) : detail ? d.secrets.seal(detail) : null,
      spareSecrets: spares.map((x) => d.secrets.seal(x)),
      targets: plan.targets,
      unresolved: plan.unresolved,
      ...(d.retry ? { retry: d.retry } : {}),
    },
  };
}

/**
 * Which lock each room's grant goes to, for a credential of `kind` on the property: the property's adapters
 * (active ones; provisional ones where named, or where their lock is the room's only one) and the rooms'
 * active locks. Throws LOCK.PROPERTY_NOT_FOUND for an unknown (or other tenant's) property.
 */
export async function planRooms(
  d: IssuanceDeps,
  tenantId: string,
  propertyId: string,
  rooms: string[],
  kind: KeyKind,
  o: { hasHolderDetail: boolean; provisionalVendors?: string[] },
) {
  return planInContext(
    d,
    await d.readModel.issueContext(tenantId, propertyId, rooms),
    propertyId,
    rooms,
    kind,
    o,
  );
}

/** planRooms from the context read (the property and the rooms' locks). */
export function planInContext(
  d: IssuanceDeps,
  { property, devices }: IssueContext,
  propertyId: string,
  rooms: string[],
  kind: KeyKind,
  o: { hasHolderDetail: boolean; provisionalVendors?: string[] },
) {
  if (!property) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${propertyId}`);
  const statusOf = Object.entries(property.vendorAdapters).map(
    ([v, s]) => [v, adapterStatus(s.status)] as const,
  );
  // New issuance goes to active adapters; a provisional one (a pilot) only when the request names it.
  const enabledVendors = new Set(
    statusOf
      .filter(([v, s]) => s === 'active' || (s === 'provisional' && (o.provisionalVendors ?? []).includes(v)))
      .map(([v]) => v),
  );
  const provisional = new Set(statusOf.filter(([, s]) => s === 'provisional').map(([v]) => v));
  const plan = planTargets({
    rooms,
    kind,
    devices,
    policy: property.keyKindPolicy,
    enabledVendors,
    provisionalVendors: provisional,
    supportsKind: d.supportsKind,
    needsHolderDetail: d.needsHolderDetail,
    hasHolderDetail: o.hasHolderDetail,
    ...(o.provisionalVendors ? { preferVendors: o.provisionalVendors } : {}),
  });
  return { property, plan };
}

/**
 * Uniform random digits, avoiding the trivially guessable that vendors refuse as "too simple" (TTLock
 * -2032): one digit repeated, a run up or down (wrapping: 890123), or a digit three times in a row.
 */
export function generatePin(digits: number): string {
  for (;;) {
    const pin = Array.from({ length: digits }, () => randomInt(10)).join('');
    if (!isSimplePin(pin)) return pin;
  }
}

export function isSimplePin(pin: string): boolean {
  const d = [...pin].map(Number);
  const steps = new Set(d.slice(1).map((x, i) => (x - (d[i] ?? 0) + 10) % 10));
  const run = steps.size === 1 && (steps.has(0) || steps.has(1) || steps.has(9));
  return run || /(\d)\1\1/.test(pin);
}

/** The secret a kind carries besides a PIN: a card's number, or the guest's app account for a mobile key. */
function holderDetail(r: CredentialRequest): string | undefined {
  return r.kind === 'card' ? r.cardNumber : r.kind === 'mobile_key' ? r.recipient : undefined;
}
