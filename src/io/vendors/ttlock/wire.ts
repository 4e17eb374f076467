/**
 * TTLock Open API v3 as it is on the wire (its own casing): HTTP 200 with `errcode` on failure, ms-epoch
 * times, form-encoded requests. `fromTtlock` maps its codes onto the normalized vendor failures.
 */
import { VendorError, type VendorFailure } from '../port.ts';

export interface TtlockError {
  errcode: number;
  errmsg: string;
  description?: string;
}

export interface TtlockToken {
  access_token: string;
  refresh_token: string;
  uid: number;
  expires_in: number;
  scope?: string;
  token_type?: string;
}

export interface TtlockLock {
  lockId: number;
  lockName: string;
  lockAlias: string;
  lockMac: string;
  electricQuantity: number;
  hasGateway: number;
  featureValue?: string;
  date?: number;
}

export interface TtlockPasscode {
  keyboardPwdId: number;
  lockId: number;
  keyboardPwd: string;
  keyboardPwdName: string;
  keyboardPwdType: number;
  startDate: number;
  endDate: number;
  sendDate: number;
  isCustom: number;
  status: number;
  senderUsername?: string;
}

/** An IC card registered at a lock by its number (`identityCard/list`). */
export interface TtlockCard {
  cardId: number;
  lockId: number;
  /** The card's number: a secret, never passed on. */
  cardNumber: string;
  cardName: string;
  startDate: number;
  endDate: number;
  createDate: number;
  senderUsername: string;
  cardType: number;
  status: number;
}

/** An eKey: a mobile key in the TTLock app of the account it was sent to (`lock/listKey`). */
export interface TtlockEkey {
  keyId: number;
  lockId: number;
  /** The receiving account: the guest's, never passed on. */
  username: string;
  keyName: string;
  keyStatus: string;
  startDate: number;
  endDate: number;
  senderUsername: string;
}

/** One lock record (`lockRecord/list`, and the `records` of a callback). */
export interface TtlockRecord {
  recordId: number;
  lockId: number;
  recordType: number;
  success: 0 | 1;
  /** The operator, or the passcode's / card's name. */
  username: string;
  /** The passcode or card number used: a secret, never passed on. */
  keyboardPwd: string;
  lockDate: number;
  serverDate: number;
  electricQuantity: number;
}

/** How a record's type says the door was opened (TTLock recordType, cloud numbering). */
export function recordMethod(recordType: number): 'pin' | 'card' | 'app' | 'remote' | 'mechanical' | 'other' {
  if (recordType === 4) return 'pin';
  if (recordType === 7 || recordType === 49) return 'card';
  if (recordType === 1) return 'app';
  // 12: opened through the gateway (the API's remote unlock). 37 is a remote control (a key fob) and 55 a
  // key fob: physical, not the API (reference/vendors.md, TTLock recordType list).
  if (recordType === 12) return 'remote';
  if (recordType === 10) return 'mechanical';
  return 'other';
}

export interface TtlockPage<T> {
  list: T[];
  pageNo: number;
  pageSize: number;
  pages: number;
  total: number;
}

/** errcode → normalized failure. Codes from the Open API error list (reference/vendors.md §1.9). */
const codes: Record<number, VendorFailure> = {
  10000: 'AUTH',
  10001: 'AUTH',
  10003: 'AUTH',
  10004: 'AUTH',
  10007: 'AUTH',
  10011: 'AUTH',
  80000: 'CLOCK_SKEW',
  30006: 'RATE_LIMITED',
  30007: 'RATE_LIMITED',
  [-2012]: 'OFFLINE',
  [-3002]: 'OFFLINE',
  [-3036]: 'OFFLINE',
  90000: 'OFFLINE',
  [-3003]: 'BUSY',
  [-3037]: 'BUSY',
  [-4043]: 'NOT_SUPPORTED',
  // 1: "failed" with no more said (reference/vendors.md §1.9): taken as passing, and retried.
  1: 'OFFLINE',
  [-3034]: 'OFFLINE',
  [-3035]: 'OFFLINE',
  [-3046]: 'PERMISSION',
  [-2025]: 'PERMISSION',
  [-4037]: 'NOT_FOUND',
  30008: 'PERMISSION',
  [-3009]: 'CAPACITY',
  [-4056]: 'CAPACITY',
  [-3007]: 'DUPLICATE',
  [-1003]: 'NOT_FOUND',
  [-2009]: 'NOT_FOUND',
  [-1021]: 'NOT_FOUND',
  [-1008]: 'NOT_FOUND',
  [-3]: 'INVALID',
  [-3006]: 'INVALID',
  // "Too simple" is about this PIN, not the request: like a PIN another passcode holds, the credential
  // moves to its next PIN (DUPLICATE is what the grant machine takes as "PIN taken").
  [-2032]: 'DUPLICATE',
  // eKeys: the receiver has no TTLock account (-4064), is the admin (-2019) or an admin (-2020).
  [-4064]: 'INVALID',
  [-2019]: 'INVALID',
  [-2020]: 'INVALID',
  [-2018]: 'PERMISSION',
  20002: 'PERMISSION',
};

/** Token errors: the adapter refreshes its token once before giving up. */
export const isTokenError = (errcode: number) => errcode === 10003 || errcode === 10004;

/** A TTLock refusal, keeping its errcode for the few answers the adapter acts on itself. */
export class TtlockVendorError extends VendorError {
  readonly errcode: number;
  constructor(e: TtlockError, options?: { retryAfterMs?: number }) {
    super(codes[e.errcode] ?? 'INVALID', `ttlock errcode ${e.errcode}: ${e.errmsg}`, options);
    this.errcode = e.errcode;
  }
}

/** The monthly call quota (30007) resets on the first of the month, Beijing time (UTC+8). */
export function untilQuotaResets(now: number): number {
  const beijing = new Date(now + 8 * 3_600_000);
  const next = Date.UTC(beijing.getUTCFullYear(), beijing.getUTCMonth() + 1, 1) - 8 * 3_600_000;
  return next - now;
}

export function fromTtlock(e: TtlockError, now = Date.now()): TtlockVendorError {
  return new TtlockVendorError(e, e.errcode === 30007 ? { retryAfterMs: untilQuotaResets(now) } : undefined);
}

/** Passcode delivery failed while in power-saving mode (a WiFi lock): add it asynchronously (addType 4). */
export const POWER_SAVING = -3035;
/** A WiFi lock whose network was never set up (`wifiLock/detail`). */
export const WIFI_NOT_CONFIGURED = -3034;

/**
 * Whether a lock's `featureValue` (hex, one bit per feature) has feature 56, "Support WiFi": such a lock
 * reaches the cloud itself, without a gateway. Read as one big number and bit 56 tested, as TTLock's own
 * samples and Home Assistant's integration do.
 */
export function isWifiLock(featureValue: unknown): boolean {
  if (typeof featureValue !== 'string' || !/^[0-9A-Fa-f]{1,64}$/.test(featureValue)) return false;
  return ((BigInt(`0x${featureValue}`) >> 56n) & 1n) === 1n;
}

export function isTtlockError(body: unknown): body is TtlockError {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as { errcode?: unknown }).errcode === 'number' &&
    (body as { errcode: number }).errcode !== 0
  );
}
