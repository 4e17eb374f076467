/**
 * The LockAdapter port: what the runtime asks of any lock vendor. Adapters are idempotent under the
 * operation id: an operation run again after a crash must not create a second credential.
 */
import { createHash } from 'node:crypto';
import { type ErrorCode, LockError } from '../../errors.ts';
import type { KeyKind } from '../../machines/index.ts';

/** The normalized vendor failures, each terminal or retryable, and the catalog code it surfaces as. */
export const VendorFailures = {
  AUTH: { retryable: false, code: 'LOCK.VENDOR_AUTH' },
  CLOCK_SKEW: { retryable: true, code: 'LOCK.VENDOR_CLOCK_SKEW' },
  RATE_LIMITED: { retryable: true, code: 'LOCK.RATE_LIMITED' },
  OFFLINE: { retryable: true, code: 'LOCK.VENDOR_UNAVAILABLE' },
  BUSY: { retryable: true, code: 'LOCK.VENDOR_BUSY' },
  TIMEOUT: { retryable: true, code: 'LOCK.VENDOR_TIMEOUT' },
  CIRCUIT_OPEN: { retryable: true, code: 'LOCK.CIRCUIT_OPEN' },
  NOT_SUPPORTED: { retryable: false, code: 'LOCK.VENDOR_REJECTED' },
  CAPACITY: { retryable: false, code: 'LOCK.VENDOR_CAPACITY' },
  DUPLICATE: { retryable: false, code: 'LOCK.VENDOR_REJECTED' },
  NOT_FOUND: { retryable: false, code: 'LOCK.VENDOR_NOT_FOUND' },
  INVALID: { retryable: false, code: 'LOCK.VENDOR_REJECTED' },
  ENCODER_TIMEOUT: { retryable: true, code: 'LOCK.VENDOR_TIMEOUT' },
  CARD_MEDIA: { retryable: false, code: 'LOCK.VENDOR_REJECTED' },
  PERMISSION: { retryable: false, code: 'LOCK.VENDOR_REJECTED' },
  /** The vendor tried and failed (a jammed lock): that attempt is over; another is the caller's decision. */
  ACTION_FAILED: { retryable: false, code: 'LOCK.VENDOR_REJECTED' },
  /**
   * The vendor did not say how an action ended (an unlock attempt that timed out): it may have happened, so it
   * is not retried by itself (a door must not open twice).
   */
  OUTCOME_UNKNOWN: { retryable: false, code: 'LOCK.VENDOR_TIMEOUT' },
  /** An answer of a shape the adapter does not know (an HTML error page, a truncated body): retried. */
  BAD_ANSWER: { retryable: true, code: 'LOCK.VENDOR_BAD_ANSWER' },
  /** Not a fault: the vendor cannot change validity in place (the machine revokes and re-issues). */
  REISSUE_REQUIRED: { retryable: false, code: 'LOCK.VENDOR_REJECTED' },
} as const satisfies Record<string, { retryable: boolean; code: ErrorCode }>;

export type VendorFailure = keyof typeof VendorFailures;

/** A vendor failure, normalized. `vendorDetail` is the vendor's own code/message, free of secrets. */
export class VendorError extends LockError {
  readonly failure: VendorFailure;
  readonly vendorDetail: string;

  constructor(
    failure: VendorFailure,
    vendorDetail: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(VendorFailures[failure].code, `${failure}: ${vendorDetail}`, {
      ...options,
      retryable: VendorFailures[failure].retryable,
    });
    this.failure = failure;
    this.vendorDetail = vendorDetail;
  }
}

export interface VendorCapabilities {
  vendor: string;
  kinds: KeyKind[];
  updateValidityInPlace: boolean;
  remoteUnlock: boolean;
  battery: boolean;
  /** The service may choose the PIN (false: the vendor generates it). */
  callerChosenPin: boolean;
  /** The vendor keeps a readable log of the lock's access records (`listAccessRecords`). */
  accessRecords: boolean;
  /** Its `card` credentials register a card's number at the lock (rather than encode a card). */
  cardNumbers: boolean;
  /** Its `mobile_key` credentials are sent to the guest's account on the vendor's app (`recipient`). */
  mobileKeyRecipients: boolean;
  /** How a guest enters a PIN at its keypads, where it is more than the digits (said in the issuing answer). */
  pinEntry?: string;
  /**
   * False where no vendor cloud lists the locks (offline doors, written at the desk: generic-wiegand): the
   * synthetic check has no lock to list or read there. Absent: true.
   */
  listsLocks?: false;
  /**
   * False where an issue can wait on a person (a card presented at a desk encoder: salto-space, vostio,
   * generic-wiegand): such an issue never runs in its credential's turn, which would hold the credential's other
   * messages meanwhile.
   * Absent: true (a vendor's answer comes within its timeout).
   */
  issuesPromptly?: false;
}

/** One entry of a lock's access log, as the vendor's API reports it (no PINs, no card numbers). */
export interface AccessRecord {
  at: Date;
  method: 'pin' | 'card' | 'app' | 'remote' | 'mechanical' | 'other';
  success: boolean;
  /** The lock's battery when it made the record, where the vendor says. */
  battery: number | null;
}

export interface VendorLock {
  ref: string;
  name: string;
  battery?: number | null;
  online?: boolean | null;
}

export interface IssueRequest {
  operationId: string;
  lockRef: string;
  kind: KeyKind;
  validFrom: Date;
  validUntil: Date;
  /** Plaintext PIN, decrypted just for this call; never logged. */
  pin: string | null;
  /** Plaintext card number (`card` at a vendor with `cardNumbers`), decrypted just for this call; never logged. */
  cardNumber?: string | null;
  /** The guest's account on the vendor's app (`mobile_key` where `mobileKeyRecipients`); never logged. */
  recipient?: string | null;
  /** False only on an operation's very first run, when nothing can exist at the vendor yet. */
  lookupFirst: boolean;
  /** Whose issue it is: for adapters that route by property (a desk agent of the property encodes). */
  site?: { tenantId: string; propertyId: string };
}

export interface RevokeRequest {
  /** The operation that issued the credential: finds it when `vendorRef` is unknown. */
  issueOperationId: string;
  /** Whose credential it is (adapters that route by property). */
  site?: { tenantId: string; propertyId: string };
  lockRef: string;
  kind: KeyKind;
  vendorRef: string | null;
}

export interface ModifyValidityRequest {
  /** The operation that issued the credential: finds it when `vendorRef` is unknown. */
  issueOperationId: string;
  lockRef: string;
  kind: KeyKind;
  vendorRef: string | null;
  validFrom: Date;
  validUntil: Date;
}

/** What an issue made at the vendor. */
export interface IssueResult {
  vendorRef: string;
  /**
   * The PIN the vendor chose, where it chooses them (`callerChosenPin` false); plaintext only until the
   * effect runner seals it, never logged.
   */
  pin?: string;
}

/** In place, or the vendor cannot: the credential's machine revokes and issues again. */
export type ModifyValidityResult =
  { outcome: 'modified'; vendorRef: string } | { outcome: 'reissue_required' };

export interface LockAdapter {
  readonly vendor: string;
  capabilities(): VendorCapabilities;
  listLocks(): Promise<VendorLock[]>;
  getLock(ref: string): Promise<VendorLock>;
  /** Idempotent under `operationId`; resolves with the vendor's reference of the credential. */
  issueCredential(req: IssueRequest): Promise<IssueResult>;
  /** Idempotent (the same window twice is the same state); NOT_FOUND if the credential is gone. */
  modifyValidity(req: ModifyValidityRequest): Promise<ModifyValidityResult>;
  /** Idempotent; a credential already gone is success. */
  revokeCredential(req: RevokeRequest): Promise<void>;
  /** NOT_SUPPORTED where `capabilities().remoteUnlock` is false. */
  remoteUnlock(lockRef: string): Promise<void>;
  /** Percent, or null where the vendor does not report it. */
  getBattery(lockRef: string): Promise<number | null>;
  /** The lock's access records between the dates; NOT_SUPPORTED where `accessRecords` is false. */
  listAccessRecords(lockRef: string, from: Date, until: Date): Promise<AccessRecord[]>;
  health(): Promise<void>;
  /**
   * Whether the lock still holds the credential `vendorRef` (a PIN). For vendors whose notices that a
   * credential was lost are unsigned claims (TTLock): the claim is checked before anything is revoked.
   */
  credentialPresent?(lockRef: string, vendorRef: string): Promise<boolean>;
  /**
   * At a decommission, before the service destroys its copies: moves on, at the vendor, the secrets the
   * vendor lets a partner rotate itself (a rotating refresh token is spent once more, so every earlier copy
   * is dead). Resolves with the config fields rotated; absent where the vendor has no such API.
   */
  retireAccess?(): Promise<string[]>;
}

/**
 * The name a credential carries at the vendor: derived from the operation id, so a re-run finds what an
 * earlier run made (and nothing about the guest reaches the vendor).
 */
export function credentialName(operationId: string): string {
  return `lk-${createHash('sha256').update(operationId).digest('base64url').slice(0, 16)}`;
}
