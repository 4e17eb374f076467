/**
 * One grant: a credential's access on one lock at one vendor. The credential says what it wants (a window,
 * a PIN, open or closed: `want`); the grant drives the vendor there one operation at a time and records what
 * the vendor holds (`held`). Every outcome goes through `converging`, which picks the next step from the
 * difference — so a window, PIN or close that arrives while an operation is in flight is never lost: it is
 * applied once that operation has answered.
 *
 * Operations are idempotent at the vendor under their id (`…:issue@<generation>`, `…:modify@<n>`,
 * `…:revoke@<generation>`); a retry re-runs the same operation with the same parameters, so a look-up after
 * a lost answer finds exactly what the first run made. Anything that needs different parameters at the
 * vendor — a new PIN, a vendor that cannot change a window in place, a credential the vendor lost — is a
 * new generation: the old one is revoked first (`replacing`), then the new one issued.
 *
 * An outcome counts only for the operation and attempt in flight; a timer only for the token it was set
 * with. A revoke never gives up: after a permanent refusal or its attempts it is `stalled` and keeps trying
 * with capped backoff until the vendor confirms the grant is gone.
 *
 * Pure, like every machine here: composed inside the credential (`credentialGrants.ts`) by its pure
 * `transition()`; vendor calls and timers are named intents.
 */
import { and, assign, enqueueActions, not, or, setup } from 'xstate';
import type {
  EffectError,
  GrantTarget,
  IssueGrantIntent,
  KeyKind,
  ModifyGrantIntent,
  RevokeGrantIntent,
  TimerIntent,
} from './intents.ts';
import { nextAttemptAt, type RetryPolicy } from './retryPolicy.ts';
import { ignore } from './totality.ts';

export interface Window {
  validFrom: string;
  validUntil: string;
}

/** What the credential wants of this grant. */
export interface GrantWant extends Window {
  /** Sealed PIN (or card number, app account); null for kinds without one. */
  secret: string | null;
  /** Which of the credential's PINs `secret` is (0: the first). */
  pinIndex: number;
  /** False once the credential closes (revoke, expiry, failure): the grant must end gone. */
  open: boolean;
}

/** An operation in flight, or waiting to be retried: its id, attempt and the parameters it runs with. */
export interface GrantOp {
  name: 'issue' | 'modify' | 'revoke';
  id: string;
  attempt: number;
  params: Window & { secret: string | null; pinIndex: number };
}

export interface GrantContext extends GrantTarget {
  credentialId: string;
  propertyId: string;
  kind: KeyKind;
  retry: RetryPolicy;
  want: GrantWant;
  /** Generations replaced so far; part of the issue and revoke ids from 1 on. */
  generation: number;
  /** What the vendor holds of this generation, as last confirmed; null when nothing is confirmed. */
  held: (Window & { pinIndex: number }) | null;
  vendorRef: string | null;
  /** A PIN the vendor chose for this grant (vendors that choose PINs), sealed. */
  vendorSecret?: string;
  op: GrantOp | null;
  /** Validity changes started; numbers the modify ids, so an old change's outcome matches nothing. */
  modifications: number;
  /** Something of this generation may exist at the vendor (an issue ran and its result is not a refusal). */
  mayExist: boolean;
  /** This generation must be replaced: the vendor lost it, or cannot change its window in place. */
  mustReplace: boolean;
  lastError: EffectError | null;
  /** A revoke refused for good or out of attempts: still retried, slowly; the credential reports it. */
  stalled: boolean;
  /** The retry timer's token: a timer counts only if it carries the latest one. */
  timerToken: number;
  /** Its close goes ahead of ordinary vendor work (absent in snapshots from before). */
  priority?: boolean;
}

export interface GrantInput extends GrantTarget {
  credentialId: string;
  propertyId: string;
  kind: KeyKind;
  retry: RetryPolicy;
  want: GrantWant;
  /**
   * An issue of it may have run before, in a turn that ended without a commit: a grant started closed then
   * revokes by look-up rather than counting itself gone.
   */
  mayExist?: boolean;
}

type Outcome<N extends string> =
  | {
      type: `effect.done.${N}`;
      at: string;
      operationId: string;
      attempt?: number;
      vendorRef?: string | null;
      vendorSecret?: string;
    }
  | { type: `effect.failed.${N}`; at: string; operationId: string; attempt?: number; error: EffectError };

/** The grant's events: vendor outcomes, its retry timer, and what the credential tells it. */
export type GrantEvent =
  | Outcome<'issueGrant'>
  | Outcome<'modifyGrant'>
  | Outcome<'revokeGrant'>
  | { type: 'timer.retryGrant'; at: string; lockDeviceId: string; token?: number }
  | { type: 'grant.want'; at: string; validFrom: string; validUntil: string }
  | { type: 'grant.repin'; at: string; secret: string | null; pinIndex: number }
  /** `priority`: the close jumps ordinary vendor work (a deactivated account's keys). */
  | { type: 'grant.close'; at: string; priority?: boolean }
  /**
   * Wanted again after a close (a room given up and taken back, a lock swept that the rooms have again): what
   * is closing is revoked first, and the next generation issued with what is wanted now.
   */
  | {
      type: 'grant.reopen';
      at: string;
      validFrom: string;
      validUntil: string;
      secret: string | null;
      pinIndex: number;
    }
  | { type: 'grant.lost'; at: string; vendorRef: string };

export const grantEventTypes = [
  'effect.done.issueGrant',
  'effect.failed.issueGrant',
  'effect.done.modifyGrant',
  'effect.failed.modifyGrant',
  'effect.done.revokeGrant',
  'effect.failed.revokeGrant',
  'timer.retryGrant',
  'grant.want',
  'grant.repin',
  'grant.close',
  'grant.reopen',
  'grant.lost',
] as const satisfies readonly GrantEvent['type'][];

/** Revocation keeps trying longer than issuance before it counts as stalled (RetryPolicy.revokeAttempts). */
const REVOKE_ATTEMPT_FACTOR = 3;
/** A stalled revoke is retried at least this often. */
export const STALLED_RETRY_CAP_MS = 15 * 60_000;

const gen = (g: number) => (g ? `@${g}` : '');
export const issueOperationId = (c: { credentialId: string; lockDeviceId: string }, generation: number) =>
  `${c.credentialId}:${c.lockDeviceId}:issue${gen(generation)}`;
export const revokeOperationId = (c: { credentialId: string; lockDeviceId: string }, generation: number) =>
  `${c.credentialId}:${c.lockDeviceId}:revoke${gen(generation)}`;
export const modifyOperationId = (c: { credentialId: string; lockDeviceId: string }, n: number) =>
  `${c.credentialId}:${c.lockDeviceId}:modify@${n}`;
export const grantTimerKey = (g: { lockDeviceId: string }) => `grant:${g.lockDeviceId}`;

const sameWindow = (a: Window | null, b: Window) =>
  !!a && a.validFrom === b.validFrom && a.validUntil === b.validUntil;

const errorOf = (e: GrantEvent): EffectError | null => ('error' in e ? e.error : null);

function target(c: GrantContext): GrantTarget {
  return {
    roomId: c.roomId,
    lockDeviceId: c.lockDeviceId,
    vendor: c.vendor,
    vendorDeviceRef: c.vendorDeviceRef,
  };
}

function intentBase(c: GrantContext, op: GrantOp) {
  return {
    ...target(c),
    operationId: op.id,
    credentialId: c.credentialId,
    propertyId: c.propertyId,
    kind: c.kind,
    attempt: op.attempt,
    ...(c.priority ? { priority: true } : {}),
  };
}

/** The vendor call an operation makes. */
export function intentOf(
  c: GrantContext,
  op: GrantOp,
): IssueGrantIntent | ModifyGrantIntent | RevokeGrantIntent {
  if (op.name === 'issue')
    return {
      intent: 'issueGrant',
      ...intentBase(c, op),
      generation: c.generation,
      validFrom: op.params.validFrom,
      validUntil: op.params.validUntil,
      secret: op.params.secret,
    };
  const issued = { issueOperationId: issueOperationId(c, c.generation), vendorRef: c.vendorRef };
  if (op.name === 'modify')
    return {
      intent: 'modifyGrant',
      ...intentBase(c, op),
      ...issued,
      validFrom: op.params.validFrom,
      validUntil: op.params.validUntil,
    };
  return { intent: 'revokeGrant', ...intentBase(c, op), ...issued };
}

const opParams = (w: GrantWant): GrantOp['params'] => ({
  validFrom: w.validFrom,
  validUntil: w.validUntil,
  secret: w.secret,
  pinIndex: w.pinIndex,
});

const revokeOp = (c: GrantContext): GrantOp => ({
  name: 'revoke',
  id: revokeOperationId(c, c.generation),
  attempt: 1,
  params: opParams(c.want),
});

const attemptsLeft = (c: GrantContext) => (c.op?.attempt ?? 0) < c.retry.maxAttempts;
const revokeAttemptsLeft = (c: GrantContext) =>
  (c.op?.attempt ?? 0) < (c.retry.revokeAttempts ?? c.retry.maxAttempts * REVOKE_ATTEMPT_FACTOR);

/** The held PIN is one the credential has left (vendor-chosen PINs are the vendor's business). */
const pinStale = (c: GrantContext) =>
  c.kind === 'pin' && !c.vendorSecret && !!c.held && c.held.pinIndex < c.want.pinIndex;

type GrantIntentAction =
  | { type: 'callVendor'; params: IssueGrantIntent | ModifyGrantIntent | RevokeGrantIntent }
  | { type: 'scheduleTimer'; params: TimerIntent }
  | { type: 'cancelTimer'; params: { key: string } };

/** The part of xstate's `enqueue` the timer actions use, typed here so they stay plain functions. */
interface GrantEnqueue {
  (action: GrantIntentAction): void;
  assign(patch: Partial<GrantContext>): void;
}
interface EnqueueArgs {
  context: GrantContext;
  event: GrantEvent;
  enqueue: GrantEnqueue;
}

/**
 * A retry timer with a fresh token. Past its attempts (a stalled revoke, or a change or replacement that keeps
 * failing for a reason that may pass) it backs off further, up to STALLED_RETRY_CAP_MS. A vendor's hint never
 * waits longer than that either (TTLock's monthly quota hints weeks: a revoke must not sleep through a quota
 * raised sooner).
 */
function scheduleRetry(stalled: boolean) {
  return ({ context, event, enqueue }: EnqueueArgs): void => {
    const token = context.timerToken + 1;
    const beyond = stalled || (context.op?.attempt ?? 0) >= context.retry.maxAttempts;
    const policy = beyond ? { ...context.retry, maxDelayMs: STALLED_RETRY_CAP_MS } : context.retry;
    const error = errorOf(event);
    const due = nextAttemptAt(event.at, context.op?.attempt ?? 1, policy, error?.retryAfterMs);
    const capped = Math.min(Date.parse(due), Date.parse(event.at) + STALLED_RETRY_CAP_MS);
    enqueue.assign({ timerToken: token });
    enqueue({
      type: 'scheduleTimer',
      params: {
        key: grantTimerKey(context),
        dueAt: new Date(capped).toISOString(),
        event: { type: 'timer.retryGrant', lockDeviceId: context.lockDeviceId, token },
      },
    });
  };
}

function cancelRetry({ context, enqueue }: EnqueueArgs): void {
  // A new token too: a timer message already on its way is then stale.
  enqueue.assign({ timerToken: context.timerToken + 1 });
  enqueue({ type: 'cancelTimer', params: { key: grantTimerKey(context) } });
}

export const grantMachine = setup({
  types: {
    context: {} as GrantContext,
    events: {} as GrantEvent,
    input: {} as GrantInput,
  },
  actions: {
    callVendor: (_: unknown, _params: IssueGrantIntent | ModifyGrantIntent | RevokeGrantIntent) => {},
    scheduleTimer: (_: unknown, _params: TimerIntent) => {},
    cancelTimer: (_: unknown, _params: { key: string }) => {},
    callOp: enqueueActions(({ context, enqueue }) => {
      if (context.op) enqueue({ type: 'callVendor', params: intentOf(context, context.op) });
    }),
    scheduleRetry: enqueueActions(scheduleRetry(false)),
    scheduleStalledRetry: enqueueActions(scheduleRetry(true)),
    cancelRetry: enqueueActions(cancelRetry),
    recordIssued: assign(({ context, event }) =>
      event.type === 'effect.done.issueGrant' && context.op
        ? {
            held: { ...context.op.params },
            vendorRef: event.vendorRef ?? null,
            ...(event.vendorSecret ? { vendorSecret: event.vendorSecret } : {}),
            mayExist: true,
            lastError: null,
            op: null,
          }
        : {},
    ),
    nextAttempt: assign(({ context }) => ({
      op: context.op && { ...context.op, attempt: context.op.attempt + 1 },
    })),
    recordError: assign(({ event }) => ({ lastError: errorOf(event) })),
    /** A failure that is not a refusal (a timeout, say) may hide a success: a close then looks it up. */
    noteMayExist: assign(({ context, event }) => ({
      mayExist: context.mayExist || !!errorOf(event)?.retryable,
    })),
    recordWindow: assign(({ context, event }) =>
      event.type === 'grant.want'
        ? { want: { ...context.want, validFrom: event.validFrom, validUntil: event.validUntil } }
        : {},
    ),
    recordPin: assign(({ context, event }) =>
      event.type === 'grant.repin'
        ? { want: { ...context.want, secret: event.secret, pinIndex: event.pinIndex } }
        : {},
    ),
    recordReopen: assign(({ event }) =>
      event.type === 'grant.reopen'
        ? {
            want: {
              validFrom: event.validFrom,
              validUntil: event.validUntil,
              secret: event.secret,
              pinIndex: event.pinIndex,
              open: true,
            },
            // A close's priority (a deactivated account's keys) is not the next issue's.
            priority: undefined,
          }
        : {},
    ),
    recordClose: assign(({ context, event }) => ({
      want: { ...context.want, open: false },
      ...(event.type === 'grant.close' && event.priority ? { priority: true } : {}),
    })),
    /** The old generation is gone at the vendor: the next one starts from nothing. */
    nextGeneration: assign(({ context }) => ({
      generation: context.generation + 1,
      held: null,
      vendorRef: null,
      vendorSecret: undefined,
      mayExist: false,
      mustReplace: false,
      stalled: false,
      lastError: null,
      op: null,
    })),
    forgetVendor: assign({ held: null, mayExist: false, stalled: false, lastError: null, op: null }),
  },
  guards: {
    /** The outcome answers the operation and attempt in flight (older answers and duplicates do not). */
    answersOp: ({ context, event }) =>
      'operationId' in event &&
      context.op?.id === event.operationId &&
      (event.attempt === undefined || event.attempt === context.op.attempt),
    timerIsCurrent: ({ context, event }) =>
      event.type === 'timer.retryGrant' && (event.token === undefined || event.token === context.timerToken),
    retryable: ({ context, event }) => !!errorOf(event)?.retryable && attemptsLeft(context),
    /** A failure that may pass (a timeout, an outage, a busy lock), attempts or not. */
    mayPass: ({ event }) => !!errorOf(event)?.retryable,
    /** A later generation: the credential is issued, and this grant replaces what the vendor lost or refused. */
    replacement: ({ context }) => context.generation > 0,
    revokeRetryable: ({ context, event }) => !!errorOf(event)?.retryable && revokeAttemptsLeft(context),
    /** A lock already holds this PIN, and it is not ours (the adapter looked the operation up first). */
    pinTaken: ({ context, event }) => errorOf(event)?.code === 'DUPLICATE' && context.kind === 'pin',
    /** NOT_FOUND on a revoke: already gone, which is what a revoke wants. */
    alreadyGone: ({ event }) => errorOf(event)?.code === 'NOT_FOUND',
    stalled: ({ context }) => context.stalled,
    lostThisOne: ({ context, event }) => event.type === 'grant.lost' && event.vendorRef === context.vendorRef,
    /** The operation waiting for its retry still makes what is wanted (else it is replaced). */
    opPinCurrent: ({ context }) => !context.op || context.op.params.pinIndex === context.want.pinIndex,
    /** The operation answered made exactly what is wanted now: open, same window, current PIN. */
    madeWhatIsWanted: ({ context, event }) =>
      !!context.op &&
      context.want.open &&
      !context.mustReplace &&
      sameWindow(context.op.params, context.want) &&
      (context.op.params.pinIndex >= context.want.pinIndex || 'vendorSecret' in event),
    // converging, in this order:
    closedAndNothingThere: ({ context }) => !context.want.open && !context.mayExist,
    closed: ({ context }) => !context.want.open,
    wantOpen: ({ context }) => context.want.open,
    mustReplace: ({ context }) => (context.mustReplace || pinStale(context)) && context.held !== null,
    nothingHeld: ({ context }) => context.held === null,
    windowDiffers: ({ context }) => !sameWindow(context.held, context.want),
  },
}).createMachine({
  id: 'grant',
  context: ({ input }) => ({
    roomId: input.roomId,
    lockDeviceId: input.lockDeviceId,
    vendor: input.vendor,
    vendorDeviceRef: input.vendorDeviceRef,
    credentialId: input.credentialId,
    propertyId: input.propertyId,
    kind: input.kind,
    retry: input.retry,
    want: input.want,
    generation: 0,
    held: null,
    vendorRef: null,
    op: null,
    modifications: 0,
    mayExist: input.mayExist ?? false,
    mustReplace: false,
    lastError: null,
    stalled: false,
    timerToken: 0,
  }),
  // A new grant picks its first step like any other: nothing is held, so it issues at once — unless it starts
  // closed (what a lost turn may have made, swept), when it revokes by look-up.
  initial: 'converging',
  // Defaults of every state: what the credential says is recorded, and converging acts on it once the grant
  // is free; the states that act on it at once override these. Outcomes and timers no state expects are old.
  on: {
    'grant.want': { actions: 'recordWindow' },
    'grant.repin': { actions: 'recordPin' },
    'grant.close': { actions: 'recordClose' },
    'grant.reopen': { actions: 'recordReopen' },
    'grant.lost': [
      { guard: 'lostThisOne', actions: assign({ mustReplace: true }) },
      ignore('about another reference: an older generation, already replaced'),
    ],
    'timer.retryGrant': ignore('no retry is due in this state: a timer from an earlier wait'),
    'effect.done.issueGrant': ignore('no issue in flight: a duplicate or late answer'),
    'effect.failed.issueGrant': ignore('no issue in flight: a duplicate or late answer'),
    'effect.done.modifyGrant': ignore('no change in flight: a duplicate or late answer'),
    'effect.failed.modifyGrant': ignore('no change in flight: a duplicate or late answer'),
    'effect.done.revokeGrant': ignore('no revoke in flight: a duplicate or late answer'),
    'effect.failed.revokeGrant': ignore('no revoke in flight: a duplicate or late answer'),
  },
  states: {
    /** Picks the next step from what is wanted and what the vendor holds. Transient. */
    converging: {
      always: [
        { guard: 'closedAndNothingThere', target: 'gone' },
        { guard: 'closed', target: 'closing', actions: assign(({ context }) => ({ op: revokeOp(context) })) },
        {
          guard: 'mustReplace',
          target: 'replacing',
          actions: assign(({ context }) => ({ op: revokeOp(context) })),
        },
        {
          guard: 'nothingHeld',
          target: 'issuing',
          actions: assign(({ context }) => ({
            op: {
              name: 'issue' as const,
              id: issueOperationId(context, context.generation),
              attempt: 1,
              params: opParams(context.want),
            },
          })),
        },
        {
          guard: 'windowDiffers',
          target: 'modifying',
          actions: assign(({ context }) => ({
            modifications: context.modifications + 1,
            op: {
              name: 'modify' as const,
              id: modifyOperationId(context, context.modifications + 1),
              attempt: 1,
              params: opParams(context.want),
            },
          })),
        },
        { target: 'issued', actions: assign({ op: null }) },
      ],
    },

    /** This generation's issue is at the vendor. */
    issuing: {
      entry: 'callOp',
      on: {
        'effect.done.issueGrant': [
          // The common case in one step: it made what is still wanted (converging would say `issued`).
          { guard: and(['answersOp', 'madeWhatIsWanted']), target: 'issued', actions: 'recordIssued' },
          { guard: 'answersOp', target: 'converging', actions: 'recordIssued' },
          ignore('no issue in flight: a duplicate or late answer'),
        ],
        'effect.failed.issueGrant': [
          {
            // Closed meanwhile: no retry; a revoke by look-up if the vendor may have done it after all.
            guard: and(['answersOp', 'closed']),
            target: 'converging',
            actions: ['recordError', 'noteMayExist', assign({ op: null })],
          },
          // Nothing of ours is there (a DUPLICATE is only ever foreign): the credential picks its next PIN.
          {
            guard: and(['answersOp', 'pinTaken', 'opPinCurrent']),
            target: 'pinRefused',
            actions: 'recordError',
          },
          {
            // Refused with a PIN the credential has already left: the next generation, with the current one.
            guard: and(['answersOp', 'pinTaken']),
            target: 'converging',
            actions: [
              'recordError',
              assign(({ context }) => ({ generation: context.generation + 1, op: null })),
            ],
          },
          {
            // A replacement (the credential is issued) never gives up on a failure that may pass: failing it
            // would revoke every room of a guest who is staying.
            guard: and(['answersOp', or(['retryable', and(['replacement', 'mayPass'])])]),
            target: 'issueRetryWait',
            // The vendor may have done it and only the answer was lost: the retry looks it up first.
            actions: ['recordError', assign({ mayExist: true })],
          },
          { guard: 'answersOp', target: 'issueFailed', actions: ['recordError', 'noteMayExist'] },
          ignore('no issue in flight: a duplicate or late answer'),
        ],
        'grant.lost': ignore('not issued yet: a notice is about an issued grant'),
      },
    },

    issueRetryWait: {
      entry: 'scheduleRetry',
      on: {
        'timer.retryGrant': [
          { guard: and(['timerIsCurrent', 'opPinCurrent']), target: 'issuing', actions: 'nextAttempt' },
          {
            // The credential moved to another PIN meanwhile: what the lost answer may have made holds the old
            // one, so it is revoked and the next generation issued with the new PIN.
            guard: 'timerIsCurrent',
            target: 'replacing',
            actions: assign(({ context }) => ({ op: revokeOp(context) })),
          },
          ignore('a timer from an earlier wait'),
        ],
        'grant.close': {
          target: 'converging',
          actions: ['cancelRetry', 'recordClose', assign({ op: null })],
        },
        'grant.lost': ignore('not issued yet: a notice is about an issued grant'),
      },
    },

    /** A lock already holds the PIN: waits for the credential's next one, or its close. */
    pinRefused: {
      on: {
        'grant.repin': {
          target: 'converging',
          actions: ['recordPin', assign(({ context }) => ({ generation: context.generation + 1, op: null }))],
        },
        'grant.close': { target: 'converging', actions: ['recordClose', assign({ op: null })] },
        'grant.lost': ignore('not issued: a notice is about an issued grant'),
      },
    },

    /** The issue failed for good: the credential fails, and closes every grant. */
    issueFailed: {
      on: {
        'grant.close': { target: 'converging', actions: ['recordClose', assign({ op: null })] },
        'grant.lost': ignore('not issued: a notice is about an issued grant'),
      },
    },

    /** The vendor holds what the credential wants. */
    issued: {
      on: {
        'grant.want': { target: 'converging', actions: 'recordWindow' },
        'grant.repin': { target: 'converging', actions: 'recordPin' },
        'grant.close': { target: 'converging', actions: 'recordClose' },
        'grant.lost': [
          { guard: 'lostThisOne', target: 'converging', actions: assign({ mustReplace: true }) },
          ignore('about another reference: an older generation, already replaced'),
        ],
      },
    },

    /** A validity change is at the vendor. */
    modifying: {
      entry: 'callOp',
      on: {
        'effect.done.modifyGrant': {
          guard: 'answersOp',
          target: 'converging',
          actions: assign(({ context, event }) => ({
            held: {
              pinIndex: context.held?.pinIndex ?? context.op!.params.pinIndex,
              validFrom: context.op!.params.validFrom,
              validUntil: context.op!.params.validUntil,
            },
            vendorRef: event.vendorRef ?? context.vendorRef,
            lastError: null,
            op: null,
          })),
        },
        'effect.failed.modifyGrant': [
          {
            guard: and(['answersOp', 'closed']),
            target: 'converging',
            actions: ['recordError', assign({ op: null })],
          },
          {
            // A failure that may pass is retried, past its attempts too (slowly): replacing instead would give
            // a vendor-chosen PIN a new value nobody was told.
            guard: and(['answersOp', 'mayPass']),
            target: 'modifyRetryWait',
            actions: 'recordError',
          },
          {
            // Cannot change in place (REISSUE_REQUIRED), gone there (NOT_FOUND), or refused: this generation is
            // replaced.
            guard: 'answersOp',
            target: 'converging',
            actions: ['recordError', assign({ mustReplace: true, op: null })],
          },
          ignore('no change in flight: a duplicate or late answer'),
        ],
      },
    },

    modifyRetryWait: {
      entry: 'scheduleRetry',
      on: {
        'timer.retryGrant': [
          {
            guard: 'timerIsCurrent',
            target: 'modifying',
            // The same change, with the window wanted now (a change makes nothing a look-up must find).
            actions: assign(({ context }) => ({
              op: context.op && {
                ...context.op,
                attempt: context.op.attempt + 1,
                params: opParams(context.want),
              },
            })),
          },
          ignore('a timer from an earlier wait'),
        ],
        'grant.close': {
          target: 'converging',
          actions: ['cancelRetry', 'recordClose', assign({ op: null })],
        },
        'grant.lost': [
          {
            guard: 'lostThisOne',
            target: 'converging',
            actions: ['cancelRetry', assign({ mustReplace: true, op: null })],
          },
          ignore('about another reference: an older generation, already replaced'),
        ],
      },
    },

    /** This generation is revoked, then the next one issued with what is wanted by then. */
    replacing: {
      initial: 'revoking',
      on: {
        'grant.lost': ignore('already being replaced'),
      },
      states: {
        revoking: {
          entry: 'callOp',
          on: {
            'effect.done.revokeGrant': {
              guard: 'answersOp',
              target: '#grant.converging',
              actions: 'nextGeneration',
            },
            'effect.failed.revokeGrant': [
              {
                guard: and(['answersOp', 'alreadyGone']),
                target: '#grant.converging',
                actions: 'nextGeneration',
              },
              {
                guard: and(['answersOp', not('stalled'), 'revokeRetryable']),
                target: 'retryWait',
                actions: 'recordError',
              },
              { guard: 'answersOp', target: 'stalled', actions: ['recordError', assign({ stalled: true })] },
              ignore('no revoke in flight: a duplicate or late answer'),
            ],
            // The revoke under way is the one a close needs: once it answers, converging finds the grant closed
            // with nothing left and ends it gone (moving to closing here would send the same revoke again).
            'grant.close': { actions: 'recordClose' },
          },
        },
        retryWait: {
          entry: 'scheduleRetry',
          on: {
            'timer.retryGrant': [
              { guard: 'timerIsCurrent', target: 'revoking', actions: 'nextAttempt' },
              ignore('a timer from an earlier wait'),
            ],
            'grant.close': { target: '#grant.closing.retryWait', actions: ['cancelRetry', 'recordClose'] },
          },
        },
        stalled: {
          entry: 'scheduleStalledRetry',
          on: {
            'timer.retryGrant': [
              { guard: 'timerIsCurrent', target: 'revoking', actions: 'nextAttempt' },
              ignore('a timer from an earlier wait'),
            ],
            'grant.close': { target: '#grant.closing.stalled', actions: ['cancelRetry', 'recordClose'] },
          },
        },
      },
    },

    /** Revoked, then gone; nothing the credential says changes that. */
    closing: {
      initial: 'revoking',
      on: {
        // Reopened meanwhile: what is wanted is recorded for the next generation, issued once this one is gone.
        'grant.want': [
          { guard: 'wantOpen', actions: 'recordWindow' },
          ignore('closing: the grant ends gone whatever the window'),
        ],
        'grant.repin': [
          { guard: 'wantOpen', actions: 'recordPin' },
          ignore('closing: the grant ends gone whatever the PIN'),
        ],
        'grant.close': [{ guard: 'wantOpen', actions: 'recordClose' }, ignore('already closing')],
        'grant.lost': ignore('closing: it is being revoked anyway'),
      },
      states: {
        revoking: {
          entry: 'callOp',
          on: {
            'effect.done.revokeGrant': [
              {
                guard: and(['answersOp', 'wantOpen']),
                target: '#grant.converging',
                actions: 'nextGeneration',
              },
              { guard: 'answersOp', target: '#grant.gone', actions: 'forgetVendor' },
              ignore('no revoke in flight: a duplicate or late answer'),
            ],
            'effect.failed.revokeGrant': [
              {
                guard: and(['answersOp', 'alreadyGone', 'wantOpen']),
                target: '#grant.converging',
                actions: 'nextGeneration',
              },
              { guard: and(['answersOp', 'alreadyGone']), target: '#grant.gone', actions: 'forgetVendor' },
              {
                guard: and(['answersOp', not('stalled'), 'revokeRetryable']),
                target: 'retryWait',
                actions: 'recordError',
              },
              { guard: 'answersOp', target: 'stalled', actions: ['recordError', assign({ stalled: true })] },
              ignore('no revoke in flight: a duplicate or late answer'),
            ],
          },
        },
        retryWait: {
          entry: 'scheduleRetry',
          on: {
            'timer.retryGrant': [
              { guard: 'timerIsCurrent', target: 'revoking', actions: 'nextAttempt' },
              ignore('a timer from an earlier wait'),
            ],
          },
        },
        stalled: {
          entry: 'scheduleStalledRetry',
          on: {
            'timer.retryGrant': [
              { guard: 'timerIsCurrent', target: 'revoking', actions: 'nextAttempt' },
              ignore('a timer from an earlier wait'),
            ],
          },
        },
      },
    },

    /** Nothing of this grant is at the vendor, and nothing more is to be done. */
    gone: {
      on: {
        'grant.want': ignore('gone: only a reopen makes it wanted again'),
        'grant.repin': ignore('gone: only a reopen makes it wanted again'),
        'grant.close': ignore('already gone'),
        'grant.reopen': { target: 'converging', actions: ['nextGeneration', 'recordReopen'] },
        'grant.lost': ignore('gone: nothing left to lose'),
      },
    },
  },
});

export type GrantSnapshot = ReturnType<typeof grantMachine.resolveState>;
