/**
 * Pure bookkeeping of a credential's grants (one per room lock): each step returns the new grants and the
 * intents it implies. The credential machine wires these steps to its states.
 */
import type {
  EffectError,
  GrantTarget,
  IssueGrantIntent,
  KeyKind,
  ModifyGrantIntent,
  RevokeGrantIntent,
  TimerIntent,
  VendorIntent,
} from './intents.ts';
import { nextAttemptAt, type RetryPolicy } from './retryPolicy.ts';

export type GrantStatus =
  | 'issuing'
  | 'retry_wait'
  | 'issued'
  | 'revoke_wait'
  | 'revoking'
  | 'revoke_retry_wait'
  | 'revoked'
  | 'failed'
  // Update saga: validity changed in place, or the grant revoked and issued again (a new generation).
  | 'modifying'
  | 'modify_retry_wait'
  | 'reissue_revoking'
  | 'reissue_revoke_retry_wait';

export interface Grant extends GrantTarget {
  status: GrantStatus;
  vendorRef: string | null;
  /** Attempts of the grant's current operation (issue, then revoke). */
  attempts: number;
  lastError: EffectError | null;
  /** Re-issues of this grant (update saga, PIN change); part of its operation ids from 1 on. Absent = 0. */
  generation?: number;
  /** Which of the credential's PINs this grant was last issued with. Absent = 0. */
  pinIndex?: number;
  /** Sealed PIN the vendor generated for this grant (vendors whose callers cannot choose PINs). */
  vendorSecret?: string;
}

/** What a credential needs to know to build its grants' intents. */
export interface GrantOwner {
  id: string;
  propertyId: string;
  kind: KeyKind;
  validFrom: string;
  validUntil: string;
  secret: string | null;
  retry: RetryPolicy;
  /** Updates applied so far; part of the modify operation id, so a stale outcome matches nothing. */
  updates?: number;
  /** Sealed alternate PINs and how many PINs are used up (a lock already held the PIN). */
  spareSecrets?: string[];
  pinIndex?: number;
}

export interface GrantStep {
  grants: Grant[];
  intents: VendorIntent[];
  timers: TimerIntent[];
  cancelTimers: string[];
  /** The credential moved to its next PIN (DUPLICATE on a lock). */
  rotated?: { secret: string; spareSecrets: string[]; pinIndex: number };
}

/** Revocation keeps trying longer than issuance: a live PIN after check-out is worse than a late one. */
const REVOKE_ATTEMPT_FACTOR = 3;

type Generational = GrantTarget & { generation?: number };
const gen = (g: Generational) => (g.generation ? `@${g.generation}` : '');
export const issueOperationId = (credentialId: string, g: Generational) =>
  `${credentialId}:${g.lockDeviceId}:issue${gen(g)}`;
export const revokeOperationId = (credentialId: string, g: Generational) =>
  `${credentialId}:${g.lockDeviceId}:revoke${gen(g)}`;
export const modifyOperationId = (credentialId: string, g: GrantTarget, update: number) =>
  `${credentialId}:${g.lockDeviceId}:modify@${update}`;
export const grantTimerKey = (g: GrantTarget) => `grant:${g.lockDeviceId}`;

function target(g: GrantTarget): GrantTarget {
  return {
    roomId: g.roomId,
    lockDeviceId: g.lockDeviceId,
    vendor: g.vendor,
    vendorDeviceRef: g.vendorDeviceRef,
  };
}

export function issueIntent(owner: GrantOwner, g: Grant): IssueGrantIntent {
  return {
    intent: 'issueGrant',
    ...target(g),
    operationId: issueOperationId(owner.id, g),
    credentialId: owner.id,
    propertyId: owner.propertyId,
    kind: owner.kind,
    validFrom: owner.validFrom,
    validUntil: owner.validUntil,
    secret: owner.secret,
    attempt: g.attempts,
  };
}

export function revokeIntent(owner: GrantOwner, g: Grant): RevokeGrantIntent {
  return {
    intent: 'revokeGrant',
    ...target(g),
    operationId: revokeOperationId(owner.id, g),
    issueOperationId: issueOperationId(owner.id, g),
    credentialId: owner.id,
    propertyId: owner.propertyId,
    kind: owner.kind,
    vendorRef: g.vendorRef,
    attempt: g.attempts,
  };
}

export function modifyIntent(owner: GrantOwner, g: Grant): ModifyGrantIntent {
  return {
    intent: 'modifyGrant',
    ...target(g),
    operationId: modifyOperationId(owner.id, g, owner.updates ?? 0),
    issueOperationId: issueOperationId(owner.id, g),
    credentialId: owner.id,
    propertyId: owner.propertyId,
    kind: owner.kind,
    vendorRef: g.vendorRef,
    validFrom: owner.validFrom,
    validUntil: owner.validUntil,
    attempt: g.attempts,
  };
}

const empty = (grants: Grant[]): GrantStep => ({ grants, intents: [], timers: [], cancelTimers: [] });

/** Starts issuing every target at once. */
export function startIssue(owner: GrantOwner, targets: GrantTarget[]): GrantStep {
  const grants: Grant[] = targets.map((t) => ({
    ...target(t),
    status: 'issuing',
    vendorRef: null,
    attempts: 1,
    lastError: null,
    pinIndex: owner.pinIndex ?? 0,
  }));
  return { ...empty(grants), intents: grants.map((g) => issueIntent(owner, g)) };
}

function findByOperation(
  owner: GrantOwner,
  grants: Grant[],
  operationId: string,
  op: 'issue' | 'revoke' | 'modify',
) {
  const opOf =
    op === 'issue'
      ? (g: Grant) => issueOperationId(owner.id, g)
      : op === 'revoke'
        ? (g: Grant) => revokeOperationId(owner.id, g)
        : (g: Grant) => modifyOperationId(owner.id, g, owner.updates ?? 0);
  return grants.findIndex((g) => opOf(g) === operationId);
}

function retryTimer(g: Grant, at: string, owner: GrantOwner, error: EffectError): TimerIntent {
  return {
    key: grantTimerKey(g),
    dueAt: nextAttemptAt(at, g.attempts, owner.retry, error.retryAfterMs),
    event: { type: 'timer.retryGrant', lockDeviceId: g.lockDeviceId },
  };
}

/** Starts an update: every issued grant changes its validity (the owner carries the new window). */
export function startUpdate(owner: GrantOwner, grants: Grant[]): GrantStep {
  const intents: VendorIntent[] = [];
  const next = grants.map((g): Grant => {
    if (g.status !== 'issued') return g;
    const m: Grant = { ...g, status: 'modifying', attempts: 1, lastError: null };
    intents.push(modifyIntent(owner, m));
    return m;
  });
  return { ...empty(next), intents };
}

/**
 * The vendor says an issued grant never reached its lock (TTLock's asynchronous failure): replace it —
 * revoke what the vendor holds, then issue the next generation. Anything but that issued grant: no-op.
 */
export function onGrantLost(
  owner: GrantOwner,
  grants: Grant[],
  lockDeviceId: string,
  vendorRef: string,
): GrantStep {
  const i = grants.findIndex((g) => g.lockDeviceId === lockDeviceId);
  const g = grants[i];
  if (!g || g.status !== 'issued' || g.vendorRef !== vendorRef) return empty(grants);
  return startClosing(owner, grants, i, g, 'reissue_revoking', {
    lastError: {
      code: 'NOT_FOUND',
      message: 'the vendor reports it never reached the lock',
      retryable: true,
    },
  });
}

/** A vendor changed the validity in place. While closing, the grant is revoked now. */
export function onModified(
  owner: GrantOwner,
  grants: Grant[],
  operationId: string,
  vendorRef: string | null,
): GrantStep {
  const i = findByOperation(owner, grants, operationId, 'modify');
  const g = grants[i];
  if (!g || (g.status !== 'modifying' && g.status !== 'revoke_wait')) return empty(grants);
  const ref = vendorRef ?? g.vendorRef;
  if (g.status === 'modifying')
    return empty(replace(grants, i, { ...g, status: 'issued', vendorRef: ref, lastError: null }));
  return startClosing(owner, grants, i, g, 'revoking', { vendorRef: ref, lastError: null });
}

/**
 * A validity change failed: retry while it may help; otherwise (the vendor cannot change it in place,
 * REISSUE_REQUIRED, or the credential is gone there) revoke the grant and issue it again.
 */
export function onModifyFailed(
  owner: GrantOwner,
  grants: Grant[],
  operationId: string,
  error: EffectError,
  at: string,
): GrantStep {
  const i = findByOperation(owner, grants, operationId, 'modify');
  const g = grants[i];
  if (!g || (g.status !== 'modifying' && g.status !== 'revoke_wait')) return empty(grants);
  if (g.status === 'revoke_wait') {
    return startClosing(owner, grants, i, g, 'revoking', { lastError: error });
  }
  if (error.retryable && g.attempts < owner.retry.maxAttempts) {
    const waiting: Grant = { ...g, status: 'modify_retry_wait', lastError: error };
    return { ...empty(replace(grants, i, waiting)), timers: [retryTimer(g, at, owner, error)] };
  }
  return startClosing(owner, grants, i, g, 'reissue_revoking', { lastError: error });
}

/** The old generation is gone: issue the grant again as the next generation, with the new window. */
function reissue(owner: GrantOwner, grants: Grant[], i: number, g: Grant): GrantStep {
  const next: Grant = {
    ...g,
    status: 'issuing',
    generation: (g.generation ?? 0) + 1,
    pinIndex: owner.pinIndex ?? 0,
    vendorRef: null,
    attempts: 1,
    lastError: null,
  };
  return { ...empty(replace(grants, i, next)), intents: [issueIntent(owner, next)] };
}

const stalePin = (owner: GrantOwner, g: Grant) => (g.pinIndex ?? 0) < (owner.pinIndex ?? 0);

/**
 * A lock already holds this PIN (DUPLICATE, and not ours: the adapter looked). The credential moves to
 * its next spare PIN: the refused grant is issued again with it, grants already issued with the old PIN
 * are revoked and issued again, and grants in flight follow when their outcome arrives. Without a spare
 * left, the grant fails like any permanent refusal. A grant refused with an older PIN just catches up.
 */
function onPinConflict(owner: GrantOwner, grants: Grant[], i: number, g: Grant, error: EffectError) {
  if (stalePin(owner, g)) return reissue(owner, grants, i, g);
  const [next, ...rest] = owner.spareSecrets ?? [];
  if (!next) return empty(replace(grants, i, { ...g, status: 'failed', lastError: error }));
  const rotated = { secret: next, spareSecrets: rest, pinIndex: (owner.pinIndex ?? 0) + 1 };
  const o: GrantOwner = { ...owner, ...rotated };
  const step = reissue(o, grants, i, g);
  // Grants already issued with the old PIN are replaced too.
  const intents = [...step.intents];
  const replaced = step.grants.map((x) => {
    if (x.status !== 'issued' || !stalePin(o, x)) return x;
    const closing = closingGrant(x, 'reissue_revoking', { lastError: error });
    intents.push(revokeIntent(o, closing));
    return closing;
  });
  return { ...step, grants: replaced, intents, rotated };
}

type Closing = 'revoking' | 'reissue_revoking';

/** A grant starting to close: its revoke is the first attempt. */
function closingGrant(g: Grant, status: Closing, patch: Partial<Grant>): Grant {
  return { ...g, ...patch, status, attempts: 1 };
}

/**
 * Begins closing a grant: revoke what the vendor holds, then the grant is gone (`revoking`, also once an
 * outcome it waited for has come) or issued as its next generation (`reissue_revoking`).
 */
function startClosing(
  owner: GrantOwner,
  grants: Grant[],
  i: number,
  g: Grant,
  status: Closing,
  patch: Partial<Grant>,
): GrantStep {
  const closing = closingGrant(g, status, patch);
  return { ...empty(replace(grants, i, closing)), intents: [revokeIntent(owner, closing)] };
}

function replace(grants: Grant[], i: number, g: Grant): Grant[] {
  return grants.map((x, j) => (j === i ? g : x));
}

/** A vendor confirmed an issue. While closing, the fresh grant is revoked at once. */
export function onIssued(
  owner: GrantOwner,
  grants: Grant[],
  operationId: string,
  vendorRef: string | null,
  vendorSecret?: string,
): GrantStep {
  const i = findByOperation(owner, grants, operationId, 'issue');
  const g = grants[i];
  if (!g || (g.status !== 'issuing' && g.status !== 'revoke_wait')) return empty(grants);
  // A vendor that chose the PIN itself: the grant keeps it (sealed); the credential's PINs do not apply.
  const issued = vendorSecret ? { vendorRef, vendorSecret, lastError: null } : { vendorRef, lastError: null };
  // Issued with a PIN the credential has since left: replace it with the current one.
  if (g.status === 'issuing' && !vendorSecret && stalePin(owner, g))
    return startClosing(owner, grants, i, g, 'reissue_revoking', issued);
  if (g.status === 'issuing') {
    return empty(replace(grants, i, { ...g, status: 'issued', ...issued }));
  }
  return startClosing(owner, grants, i, g, 'revoking', issued);
}

/** A vendor refused or failed an issue: retry later when it may help, else the grant has failed. */
export function onIssueFailed(
  owner: GrantOwner,
  grants: Grant[],
  operationId: string,
  error: EffectError,
  at: string,
): GrantStep {
  const i = findByOperation(owner, grants, operationId, 'issue');
  const g = grants[i];
  if (!g || (g.status !== 'issuing' && g.status !== 'revoke_wait')) return empty(grants);
  if (g.status === 'revoke_wait') {
    // The outcome may be unknown (a timeout can hide a success): revoke by looking the operation up.
    return startClosing(owner, grants, i, g, 'revoking', { lastError: error });
  }
  if (error.code === 'DUPLICATE' && owner.kind === 'pin') return onPinConflict(owner, grants, i, g, error);
  if (error.retryable && g.attempts < owner.retry.maxAttempts) {
    const waiting: Grant = { ...g, status: 'retry_wait', lastError: error };
    return { ...empty(replace(grants, i, waiting)), timers: [retryTimer(g, at, owner, error)] };
  }
  return empty(replace(grants, i, { ...g, status: 'failed', lastError: error }));
}

/** A retry timer fired: run the grant's pending operation again. */
export function onRetryDue(owner: GrantOwner, grants: Grant[], lockDeviceId: string): GrantStep {
  const i = grants.findIndex((g) => g.lockDeviceId === lockDeviceId);
  const g = grants[i];
  if (!g) return empty(grants);
  if (g.status === 'retry_wait') {
    const next: Grant = { ...g, status: 'issuing', attempts: g.attempts + 1, pinIndex: owner.pinIndex ?? 0 };
    return { ...empty(replace(grants, i, next)), intents: [issueIntent(owner, next)] };
  }
  if (g.status === 'revoke_retry_wait' || g.status === 'reissue_revoke_retry_wait') {
    const status = g.status === 'revoke_retry_wait' ? 'revoking' : 'reissue_revoking';
    const next: Grant = { ...g, status, attempts: g.attempts + 1 };
    return { ...empty(replace(grants, i, next)), intents: [revokeIntent(owner, next)] };
  }
  if (g.status === 'modify_retry_wait') {
    const next: Grant = { ...g, status: 'modifying', attempts: g.attempts + 1 };
    return { ...empty(replace(grants, i, next)), intents: [modifyIntent(owner, next)] };
  }
  return empty(grants);
}

/**
 * Begins closing every grant (revoke, expiry or failure compensation). A grant whose issue is in flight
 * waits for its outcome; every other grant that may exist at the vendor is revoked.
 */
export function startClose(owner: GrantOwner, grants: Grant[]): GrantStep {
  const intents: VendorIntent[] = [];
  const cancelTimers: string[] = [];
  const next = grants.map((g): Grant => {
    if (g.status === 'revoked' || g.status === 'revoking' || g.status === 'revoke_wait') return g;
    if (g.status === 'revoke_retry_wait') return g;
    // Already revoking the old generation for a re-issue: that revoke now simply closes the grant.
    if (g.status === 'reissue_revoking') return { ...g, status: 'revoking' };
    if (g.status === 'reissue_revoke_retry_wait') return { ...g, status: 'revoke_retry_wait' };
    // An issue or a validity change in flight: wait for its outcome, then revoke.
    if (g.status === 'issuing' || g.status === 'modifying') return { ...g, status: 'revoke_wait' };
    if (g.status === 'retry_wait' || g.status === 'modify_retry_wait') cancelTimers.push(grantTimerKey(g));
    const closing: Grant = { ...g, status: 'revoking', attempts: 1 };
    intents.push(revokeIntent(owner, closing));
    return closing;
  });
  return { grants: next, intents, timers: [], cancelTimers };
}

/** A vendor confirmed a revoke. */
export function onRevoked(owner: GrantOwner, grants: Grant[], operationId: string): GrantStep {
  const i = findByOperation(owner, grants, operationId, 'revoke');
  const g = grants[i];
  if (g?.status === 'reissue_revoking') return reissue(owner, grants, i, g);
  if (!g || g.status !== 'revoking') return empty(grants);
  return empty(replace(grants, i, { ...g, status: 'revoked', lastError: null }));
}

/** A revoke failed: NOT_FOUND means already gone; retryable failures retry; others give up on the grant. */
export function onRevokeFailed(
  owner: GrantOwner,
  grants: Grant[],
  operationId: string,
  error: EffectError,
  at: string,
): GrantStep {
  const i = findByOperation(owner, grants, operationId, 'revoke');
  const g = grants[i];
  if (!g || (g.status !== 'revoking' && g.status !== 'reissue_revoking')) return empty(grants);
  const reissuing = g.status === 'reissue_revoking';
  if (error.code === 'NOT_FOUND')
    return reissuing
      ? reissue(owner, grants, i, g)
      : empty(replace(grants, i, { ...g, status: 'revoked', lastError: null }));
  if (error.retryable && g.attempts < owner.retry.maxAttempts * REVOKE_ATTEMPT_FACTOR) {
    const waiting: Grant = {
      ...g,
      status: reissuing ? 'reissue_revoke_retry_wait' : 'revoke_retry_wait',
      lastError: error,
    };
    return { ...empty(replace(grants, i, waiting)), timers: [retryTimer(g, at, owner, error)] };
  }
  return empty(replace(grants, i, { ...g, status: 'failed', lastError: error }));
}

export const allIssued = (grants: Grant[]) => grants.length > 0 && grants.every((g) => g.status === 'issued');
export const anyFailed = (grants: Grant[]) => grants.some((g) => g.status === 'failed');
/** Closed: nothing in flight or waiting; what could not be revoked is `failed`. */
export const allClosed = (grants: Grant[]) =>
  grants.every((g) => g.status === 'revoked' || g.status === 'failed');
