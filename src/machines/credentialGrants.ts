/**
 * Pure bookkeeping of a credential's grants (one per room lock): each step returns the new grants and the
 * intents it implies. The credential machine wires these steps to its states.
 */
import type {
  EffectError,
  GrantTarget,
  IssueGrantIntent,
  KeyKind,
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
  | 'failed';

export interface Grant extends GrantTarget {
  status: GrantStatus;
  vendorRef: string | null;
  /** Attempts of the grant's current operation (issue, then revoke). */
  attempts: number;
  lastError: EffectError | null;
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
}

export interface GrantStep {
  grants: Grant[];
  intents: VendorIntent[];
  timers: TimerIntent[];
  cancelTimers: string[];
}

/** Revocation keeps trying longer than issuance: a live PIN after check-out is worse than a late one. */
const REVOKE_ATTEMPT_FACTOR = 3;

export const issueOperationId = (credentialId: string, g: GrantTarget) =>
  `${credentialId}:${g.lockDeviceId}:issue`;
export const revokeOperationId = (credentialId: string, g: GrantTarget) =>
  `${credentialId}:${g.lockDeviceId}:revoke`;
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

const empty = (grants: Grant[]): GrantStep => ({ grants, intents: [], timers: [], cancelTimers: [] });

/** Starts issuing every target at once. */
export function startIssue(owner: GrantOwner, targets: GrantTarget[]): GrantStep {
  const grants: Grant[] = targets.map((t) => ({
    ...target(t),
    status: 'issuing',
    vendorRef: null,
    attempts: 1,
    lastError: null,
  }));
  return { ...empty(grants), intents: grants.map((g) => issueIntent(owner, g)) };
}

function findByOperation(owner: GrantOwner, grants: Grant[], operationId: string, op: 'issue' | 'revoke') {
  const opOf = op === 'issue' ? issueOperationId : revokeOperationId;
  return grants.findIndex((g) => opOf(owner.id, g) === operationId);
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
): GrantStep {
  const i = findByOperation(owner, grants, operationId, 'issue');
  const g = grants[i];
  if (!g || (g.status !== 'issuing' && g.status !== 'revoke_wait')) return empty(grants);
  if (g.status === 'issuing') {
    return empty(replace(grants, i, { ...g, status: 'issued', vendorRef, lastError: null }));
  }
  const closing: Grant = { ...g, status: 'revoking', vendorRef, attempts: 1, lastError: null };
  return { ...empty(replace(grants, i, closing)), intents: [revokeIntent(owner, closing)] };
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
    const closing: Grant = { ...g, status: 'revoking', attempts: 1, lastError: error };
    return { ...empty(replace(grants, i, closing)), intents: [revokeIntent(owner, closing)] };
  }
  if (error.retryable && g.attempts < owner.retry.maxAttempts) {
    const waiting: Grant = { ...g, status: 'retry_wait', lastError: error };
    const dueAt = nextAttemptAt(at, g.attempts, owner.retry, error.retryAfterMs);
    const timer: TimerIntent = {
      key: grantTimerKey(g),
      dueAt,
      event: { type: 'timer.retryGrant', lockDeviceId: g.lockDeviceId },
    };
    return { ...empty(replace(grants, i, waiting)), timers: [timer] };
  }
  return empty(replace(grants, i, { ...g, status: 'failed', lastError: error }));
}

/** A retry timer fired: run the grant's pending operation again. */
export function onRetryDue(owner: GrantOwner, grants: Grant[], lockDeviceId: string): GrantStep {
  const i = grants.findIndex((g) => g.lockDeviceId === lockDeviceId);
  const g = grants[i];
  if (!g) return empty(grants);
  if (g.status === 'retry_wait') {
    const next: Grant = { ...g, status: 'issuing', attempts: g.attempts + 1 };
    return { ...empty(replace(grants, i, next)), intents: [issueIntent(owner, next)] };
  }
  if (g.status === 'revoke_retry_wait') {
    const next: Grant = { ...g, status: 'revoking', attempts: g.attempts + 1 };
    return { ...empty(replace(grants, i, next)), intents: [revokeIntent(owner, next)] };
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
    if (g.status === 'issuing') return { ...g, status: 'revoke_wait' };
    if (g.status === 'retry_wait') cancelTimers.push(grantTimerKey(g));
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
  if (!g || g.status !== 'revoking') return empty(grants);
  if (error.code === 'NOT_FOUND')
    return empty(replace(grants, i, { ...g, status: 'revoked', lastError: null }));
  if (error.retryable && g.attempts < owner.retry.maxAttempts * REVOKE_ATTEMPT_FACTOR) {
    const waiting: Grant = { ...g, status: 'revoke_retry_wait', lastError: error };
    const dueAt = nextAttemptAt(at, g.attempts, owner.retry, error.retryAfterMs);
    const timer: TimerIntent = {
      key: grantTimerKey(g),
      dueAt,
      event: { type: 'timer.retryGrant', lockDeviceId: g.lockDeviceId },
    };
    return { ...empty(replace(grants, i, waiting)), timers: [timer] };
  }
  return empty(replace(grants, i, { ...g, status: 'failed', lastError: error }));
}

export const allIssued = (grants: Grant[]) => grants.length > 0 && grants.every((g) => g.status === 'issued');
export const anyFailed = (grants: Grant[]) => grants.some((g) => g.status === 'failed');
/** Closed: nothing in flight or waiting; what could not be revoked is `failed`. */
export const allClosed = (grants: Grant[]) =>
  grants.every((g) => g.status === 'revoked' || g.status === 'failed');
