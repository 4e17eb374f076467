/**
 * The one error catalog. Codes are stable: never renamed, never reused.
 * Imports nothing, so every layer (machines included) may use it.
 */
export const ErrorCatalog = {
  'LOCK.VALIDATION': { status: 400, title: 'The request is not valid', retryable: false },
  'LOCK.UNAUTHENTICATED': { status: 401, title: 'Authentication is required', retryable: false },
  'LOCK.FORBIDDEN': { status: 403, title: 'The token does not allow this', retryable: false },
  'LOCK.NOT_FOUND': { status: 404, title: 'No such resource', retryable: false },
  'LOCK.CONFLICT': { status: 409, title: 'The resource changed concurrently', retryable: true },
  'LOCK.IDEMPOTENCY_IN_PROGRESS': {
    status: 409,
    title: 'A request with this Idempotency-Key is still being processed',
    retryable: true,
  },
  'LOCK.IDEMPOTENCY_KEY_REUSED': {
    status: 422,
    title: 'This Idempotency-Key was used with another request body',
    retryable: false,
  },
  'LOCK.IDEMPOTENCY_KEY_REQUIRED': {
    status: 400,
    title: 'This operation requires an Idempotency-Key header',
    retryable: false,
  },
  'LOCK.PROPERTY_NOT_FOUND': { status: 404, title: 'No such property', retryable: false },
  'LOCK.HOLDER_DEACTIVATED': {
    status: 409,
    title: "The holder's account is deactivated: no new credential",
    retryable: false,
  },
  'LOCK.NO_NEW_PIN': {
    status: 409,
    title: 'No PIN of this credential changed since it was issued',
    retryable: false,
  },
  'LOCK.PIN_ALREADY_READ': { status: 410, title: 'The new PIN was read already', retryable: false },
  'LOCK.NO_LOCK_FOR_ROOM': { status: 422, title: 'A room has no active lock device', retryable: false },
  'LOCK.VENDOR_NOT_ENABLED': {
    status: 422,
    title: 'The vendor adapter is not enabled for this property',
    retryable: false,
  },
  'LOCK.KIND_NOT_SUPPORTED': {
    status: 422,
    title: 'No vendor of these rooms supports this key kind',
    retryable: false,
  },
  'LOCK.INVALID_STATE': {
    status: 409,
    title: 'The resource cannot do this in its current state',
    retryable: false,
  },
  'LOCK.PAYLOAD_TOO_LARGE': { status: 413, title: 'The request body is too large', retryable: false },
  'LOCK.RATE_LIMITED': { status: 429, title: 'Too many requests', retryable: true },
  'LOCK.VENDOR_UNAVAILABLE': { status: 503, title: 'The lock vendor is unavailable', retryable: true },
  'LOCK.VENDOR_REJECTED': { status: 502, title: 'The lock vendor refused the operation', retryable: false },
  'LOCK.VENDOR_BAD_ANSWER': {
    status: 502,
    title: 'The lock vendor answered something unexpected',
    retryable: true,
  },
  'LOCK.VENDOR_AUTH': { status: 502, title: 'The lock vendor refused our credentials', retryable: false },
  'LOCK.VENDOR_CLOCK_SKEW': { status: 502, title: 'The lock vendor reports clock skew', retryable: true },
  'LOCK.VENDOR_BUSY': { status: 503, title: 'The lock or its gateway is busy', retryable: true },
  'LOCK.VENDOR_CAPACITY': {
    status: 422,
    title: 'The lock has no room for another credential',
    retryable: false,
  },
  'LOCK.VENDOR_NOT_FOUND': { status: 422, title: 'The vendor does not know this lock', retryable: false },
  'LOCK.VENDOR_TIMEOUT': { status: 504, title: 'The lock vendor did not answer in time', retryable: true },
  'LOCK.CIRCUIT_OPEN': {
    status: 503,
    title: 'Calls to this vendor are paused after repeated failures',
    retryable: true,
  },
  'LOCK.FENCED': { status: 503, title: 'This runtime no longer owns the partition', retryable: true },
  'LOCK.VERSION_CONFLICT': { status: 409, title: 'The actor was written by someone else', retryable: true },
  'LOCK.REJECTED_MESSAGE': { status: 422, title: 'The actor rejected the message', retryable: false },
  'LOCK.MESSAGE_FAILED': {
    status: 500,
    title: 'The actor could not apply the message after repeated attempts',
    retryable: false,
  },
  'LOCK.UNAVAILABLE': { status: 503, title: 'A dependency of the service is unavailable', retryable: true },
  'LOCK.INTERNAL': { status: 500, title: 'Internal error', retryable: false },
} as const satisfies Record<string, { status: number; title: string; retryable: boolean }>;

export type ErrorCode = keyof typeof ErrorCatalog;
export const errorCodes = Object.keys(ErrorCatalog) as ErrorCode[];

/** A failure with a catalog code. `retryAfterMs` hints when a retryable failure may succeed. */
export class LockError extends Error {
  override readonly name = 'LockError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly detail: string | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    options?: { cause?: unknown; retryAfterMs?: number; retryable?: boolean },
  ) {
    super(
      detail ? `${code}: ${detail}` : code,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.status = ErrorCatalog[code].status;
    this.retryable = options?.retryable ?? ErrorCatalog[code].retryable;
    this.retryAfterMs = options?.retryAfterMs;
    this.detail = detail;
  }
}

/** Narrows by code, never by message. */
export function isLockError(e: unknown, code?: ErrorCode): e is LockError {
  return e instanceof LockError && (code === undefined || e.code === code);
}

/** Turns anything thrown into an Error without losing it. */
export function ensureError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : JSON.stringify(e));
}
