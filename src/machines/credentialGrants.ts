/**
 * The credential's grants, one grant machine per lock, composed purely: each grant is kept as its machine's
 * state and context, and an event for it is applied with xstate's pure `transition()` — no spawned children,
 * so the credential's own `transition()` stays pure and its snapshot is plain data. What a grant's step emits
 * (vendor calls, timers) becomes the credential's intents. The credential reads the grants through the
 * summaries at the end of this file.
 */
import type { AnyMachineSnapshot } from 'xstate';
import {
  type GrantContext,
  type GrantEvent,
  type GrantInput,
  type GrantWant,
  grantMachine,
} from './grant.ts';
import type { GrantTarget, KeyKind, TimerIntent, VendorIntent } from './intents.ts';
import { initialStep, step } from './pureTransition.ts';
import type { RetryPolicy } from './retryPolicy.ts';

/** A grant's state value: a top-level state, or a phase of replacing or closing. */
export type GrantStateValue = string | { replacing: string } | { closing: string };

/** A grant as the credential keeps it (the grant machine's persisted state, without the bookkeeping). */
export interface Grant {
  value: GrantStateValue;
  context: GrantContext;
}

export type GrantIntentAction =
  | { type: 'callVendor'; params: VendorIntent }
  | { type: 'scheduleTimer'; params: TimerIntent }
  | { type: 'cancelTimer'; params: { key: string } };

export interface GrantStep {
  grants: Grant[];
  actions: GrantIntentAction[];
}

/** What a credential gives each grant it starts. */
export interface GrantOwner {
  id: string;
  propertyId: string;
  kind: KeyKind;
  retry: RetryPolicy;
}

const asGrant = (s: AnyMachineSnapshot): Grant => ({
  value: s.value as GrantStateValue,
  context: s.context as GrantContext,
});

/** The grant machine's actions as the credential's intents, in journal order. */
function intentsOf(actions: readonly { type: string; params?: unknown }[]): GrantIntentAction[] {
  const out: GrantIntentAction[] = [];
  for (const a of actions) {
    if (a.type === 'callVendor' || a.type === 'scheduleTimer' || a.type === 'cancelTimer')
      out.push({ type: a.type, params: a.params } as GrantIntentAction);
  }
  return out;
}

/**
 * Starts one grant per target, each issuing with what is wanted — or, wanted closed and `mayExist` (what a
 * turn that ended without a commit may have made), revoking by look-up. Pure.
 */
export function startGrants(
  owner: GrantOwner,
  targets: GrantTarget[],
  want: GrantWant,
  mayExist = false,
): GrantStep {
  const grants: Grant[] = [];
  const actions: GrantIntentAction[] = [];
  for (const t of targets) {
    const input: GrantInput = {
      roomId: t.roomId,
      lockDeviceId: t.lockDeviceId,
      vendor: t.vendor,
      vendorDeviceRef: t.vendorDeviceRef,
      credentialId: owner.id,
      propertyId: owner.propertyId,
      kind: owner.kind,
      retry: owner.retry,
      want,
      ...(mayExist ? { mayExist } : {}),
    };
    const [s, a] = initialStep(grantMachine, input);
    grants.push(asGrant(s));
    actions.push(...intentsOf(a));
  }
  return { grants, actions };
}

/**
 * Starts one grant per target holding what was already written without the service (a desk's provisional
 * card, reconciled): each grant starts issuing and takes the issue's success at once, so it is `issued` with
 * the vendor reference and no vendor call is made. Pure.
 */
export function adoptGrants(
  owner: GrantOwner,
  targets: GrantTarget[],
  want: GrantWant,
  vendorRef: string,
  at: string,
): GrantStep {
  const started = startGrants(owner, targets, want);
  const grants = started.grants.map((g) => {
    const op = g.context.op;
    if (!op) return g;
    const done: GrantEvent = {
      type: 'effect.done.issueGrant',
      at,
      operationId: op.id,
      attempt: op.attempt,
      vendorRef,
    };
    const [after] = step(grantMachine, grantMachine.resolveState(g), done);
    return asGrant(after);
  });
  // The issue calls `startGrants` planned are not made: the card exists. (Its timers are the issue's.)
  return { grants, actions: [] };
}

/** Applies an event to the grants at `indexes`; null when none of them changes. Pure. */
export function stepGrants(grants: Grant[], indexes: number[], event: GrantEvent): GrantStep | null {
  let next: Grant[] | null = null;
  const actions: GrantIntentAction[] = [];
  for (const i of indexes) {
    const g = grants[i];
    if (!g) continue;
    const before = grantMachine.resolveState(g);
    const [after, a] = step(grantMachine, before, event);
    if (after === before && a.length === 0) continue;
    next ??= [...grants];
    next[i] = asGrant(after);
    actions.push(...intentsOf(a));
  }
  return next ? { grants: next, actions } : null;
}

/** Applies an event to every grant; null when none changes. Pure. */
export function stepAllGrants(grants: Grant[], event: GrantEvent): GrantStep | null {
  return stepGrants(
    grants,
    grants.map((_, i) => i),
    event,
  );
}

/** The grant an outcome answers: the one whose operation in flight has this id (-1: none). */
export const byOperation = (grants: Grant[], operationId: string) =>
  grants.findIndex((g) => g.context.op?.id === operationId);
export const byLock = (grants: Grant[], lockDeviceId: string) =>
  grants.findIndex((g) => g.context.lockDeviceId === lockDeviceId);

// Summaries the credential's guards read.
const top = (g: Grant) => (typeof g.value === 'string' ? g.value : Object.keys(g.value)[0]!);
export const isIssued = (g: Grant) => top(g) === 'issued';
export const isGone = (g: Grant) => top(g) === 'gone';
/** The grant holds its generation at the vendor: issued, or changing its window in place. */
export const holdsItsCredential = (g: Grant) => ['issued', 'modifying', 'modifyRetryWait'].includes(top(g));
export const isIssueFailed = (g: Grant) => top(g) === 'issueFailed';
export const isPinRefused = (g: Grant) => top(g) === 'pinRefused';
export const allIssued = (grants: Grant[]) => grants.length > 0 && grants.every((g) => top(g) === 'issued');
export const allGone = (grants: Grant[]) => grants.every((g) => top(g) === 'gone');
export const refusedPin = (grants: Grant[]) => grants.find((g) => top(g) === 'pinRefused');
export const failedIssue = (grants: Grant[]) => grants.find((g) => top(g) === 'issueFailed');
export const stalled = (grants: Grant[]) => grants.find((g) => g.context.stalled);

/** A grant's status in the contract (read model, REST). Pure. */
export function grantStatus(g: Grant): 'issuing' | 'active' | 'updating' | 'revoking' | 'revoked' | 'failed' {
  switch (top(g)) {
    case 'issued':
      return 'active';
    case 'modifying':
    case 'modifyRetryWait':
    case 'replacing':
      return 'updating';
    case 'closing':
      return 'revoking';
    case 'gone':
      return 'revoked';
    case 'issueFailed':
      return 'failed';
    default:
      return 'issuing';
  }
}
