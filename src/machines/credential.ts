/**
 * The key credential: issue → active → revoke/expire, with per-grant retries and failure compensation.
 * Pure: time arrives in events (`at`), secrets arrive encrypted, vendor calls and timers are intents.
 */
import { assign, enqueueActions, type SnapshotFrom, setup } from 'xstate';
import type { Grant, GrantOwner, GrantStep } from './credentialGrants.ts';
import * as grants from './credentialGrants.ts';
import type {
  DomainEventIntent,
  EffectError,
  GrantTarget,
  KeyKind,
  TimerIntent,
  VendorIntent,
} from './intents.ts';
import { defaultRetryPolicy, type RetryPolicy } from './retryPolicy.ts';

export type CredentialStatus =
  | 'requested'
  | 'issuing'
  | 'active'
  | 'updating'
  | 'revoking'
  | 'revoked'
  | 'failed'
  | 'expired'
  | 'provisional';

export interface Holder {
  kind: 'guest' | 'staff';
  ref: string;
}

export interface CredentialFailure {
  code: string;
  reason: string;
}

export interface CredentialContext {
  id: string;
  tenantId: string;
  propertyId: string;
  reservationId: string | null;
  holder: Holder;
  kind: KeyKind;
  rooms: string[];
  areas: string[];
  validFrom: string;
  validUntil: string;
  /** The PIN, encrypted by the runtime's secret box; null for kinds without a secret. */
  secret: string | null;
  grants: Grant[];
  /** Where closing ends: revoked, expired or failed. */
  closeGoal: 'revoked' | 'expired' | 'failed' | null;
  revokeReason: string | null;
  failure: CredentialFailure | null;
  retry: RetryPolicy;
  /** Sealed alternate PINs not used yet; `pinIndex` counts the PINs used up (0: the first). */
  spareSecrets?: string[];
  pinIndex?: number;
  /** Updates applied (update saga); absent in snapshots from before updates existed. */
  updates?: number;
  /** A window that arrived while an update was running: applied as soon as that one ends. */
  pendingUpdate?: { validFrom: string; validUntil: string } | null;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialInput {
  id: string;
  tenantId: string;
}

export interface IssueCredentialEvent {
  type: 'credential.issue';
  at: string;
  propertyId: string;
  reservationId: string | null;
  holder: Holder;
  kind: KeyKind;
  rooms: string[];
  areas: string[];
  validFrom: string;
  validUntil: string;
  secret: string | null;
  /** Sealed alternate PINs, used in order when a lock already holds the PIN (DUPLICATE). */
  spareSecrets?: string[];
  targets: GrantTarget[];
  /** Rooms the requester could not resolve to a lock, with the reason code. */
  unresolved: { roomId: string; code: string }[];
  retry?: RetryPolicy;
}

export type CredentialEvent =
  | IssueCredentialEvent
  | { type: 'credential.revoke'; at: string; reason: string }
  | { type: 'credential.update'; at: string; validFrom: string; validUntil: string }
  | { type: 'effect.done.modifyGrant'; at: string; operationId: string; vendorRef?: string | null }
  | { type: 'effect.failed.modifyGrant'; at: string; operationId: string; error: EffectError }
  | {
      type: 'effect.done.issueGrant';
      at: string;
      operationId: string;
      vendorRef?: string | null;
      vendorSecret?: string;
    }
  | { type: 'effect.failed.issueGrant'; at: string; operationId: string; error: EffectError }
  | { type: 'effect.done.revokeGrant'; at: string; operationId: string; vendorRef?: string | null }
  | { type: 'effect.failed.revokeGrant'; at: string; operationId: string; error: EffectError }
  | { type: 'timer.retryGrant'; at: string; lockDeviceId: string }
  /** The vendor says the grant on this lock (its reference) never reached the lock. */
  | { type: 'credential.grantLost'; at: string; lockDeviceId: string; vendorRef: string }
  | { type: 'timer.expire'; at: string };

const owner = (c: CredentialContext): GrantOwner => c;
const EXPIRE_TIMER = 'expire';

/** The grant step an effect outcome or retry timer implies; the same in every state that has grants. */
function decideGrants(c: CredentialContext, e: CredentialEvent): GrantStep {
  switch (e.type) {
    case 'effect.done.issueGrant':
      return grants.onIssued(owner(c), c.grants, e.operationId, e.vendorRef ?? null, e.vendorSecret);
    case 'effect.failed.issueGrant':
      return grants.onIssueFailed(owner(c), c.grants, e.operationId, e.error, e.at);
    case 'effect.done.revokeGrant':
      return grants.onRevoked(owner(c), c.grants, e.operationId);
    case 'effect.failed.revokeGrant':
      return grants.onRevokeFailed(owner(c), c.grants, e.operationId, e.error, e.at);
    case 'effect.done.modifyGrant':
      return grants.onModified(owner(c), c.grants, e.operationId, e.vendorRef ?? null);
    case 'effect.failed.modifyGrant':
      return grants.onModifyFailed(owner(c), c.grants, e.operationId, e.error, e.at);
    case 'timer.retryGrant':
      return grants.onRetryDue(owner(c), c.grants, e.lockDeviceId);
    case 'credential.grantLost':
      return grants.onGrantLost(owner(c), c.grants, e.lockDeviceId, e.vendorRef);
    case 'credential.issue':
      return grants.startIssue(owner(c), e.targets);
    default:
      return { grants: c.grants, intents: [], timers: [], cancelTimers: [] };
  }
}

type CredentialIntentAction =
  | { type: 'callVendor'; params: VendorIntent }
  | { type: 'scheduleTimer'; params: TimerIntent }
  | { type: 'cancelTimer'; params: { key: string } }
  | { type: 'publishEvent'; params: DomainEventIntent };

/** A step's intents as actions, in journal order: cancellations, timers, vendor calls. */
function stepActions(s: GrantStep): CredentialIntentAction[] {
  return [
    ...s.cancelTimers.map((key) => ({ type: 'cancelTimer' as const, params: { key } })),
    ...s.timers.map((t) => ({ type: 'scheduleTimer' as const, params: t })),
    ...s.intents.map((i) => ({ type: 'callVendor' as const, params: i })),
  ];
}

/** Closing (revoke, expiry, failure): the context changes and the intents it implies. Pure. */
function decideClose(c: CredentialContext, e: CredentialEvent, goal: CloseGoal) {
  const s = grants.startClose(owner(c), c.grants);
  const failedGrant = c.grants.find((g) => g.status === 'failed');
  const failure: CredentialFailure | null =
    goal === 'failed'
      ? {
          code: failedGrant?.lastError?.code ?? 'FAILED',
          reason: failedGrant?.lastError?.message ?? 'a grant could not be issued',
        }
      : c.failure;
  const actions: CredentialIntentAction[] = [];
  if (goal !== 'expired') actions.push({ type: 'cancelTimer', params: { key: EXPIRE_TIMER } });
  actions.push(...stepActions(s));
  if (goal === 'failed')
    actions.push({ type: 'publishEvent', params: { verb: 'failed', data: { failure } } });
  const patch: Partial<CredentialContext> = {
    grants: s.grants,
    closeGoal: goal,
    updatedAt: e.at,
    revokeReason: e.type === 'credential.revoke' ? e.reason : c.revokeReason,
    failure,
  };
  return { patch, actions };
}

type CloseGoal = 'revoked' | 'expired' | 'failed';

/** The part of xstate's `enqueue` the shared steps use: typed here so the steps stay plain functions. */
interface CredentialEnqueue {
  (action: CredentialIntentAction): void;
  assign(patch: Partial<CredentialContext>): void;
}
interface EnqueueArgs {
  context: CredentialContext;
  event: CredentialEvent;
  enqueue: CredentialEnqueue;
}

function applyGrantEvent({ context, event, enqueue }: EnqueueArgs): void {
  const s = decideGrants(context, event);
  enqueue.assign({ grants: s.grants, updatedAt: event.at, ...(s.rotated ?? {}) });
  for (const a of stepActions(s)) enqueue(a);
}

/** Every grant outcome, retry timer or lost-grant notice: applied only when it changes the grants. */
const grantStep = { guard: 'grantEventApplies', actions: 'applyGrantEvent' } as const;
/** The outcomes of issuing and revoking grants, and their retry timers: handled alike in every state that has grants. */
const grantOutcomes = {
  'effect.done.issueGrant': grantStep,
  'effect.failed.issueGrant': grantStep,
  'effect.done.revokeGrant': grantStep,
  'effect.failed.revokeGrant': grantStep,
  'timer.retryGrant': grantStep,
} as const;
const modifyOutcomes = {
  'effect.done.modifyGrant': grantStep,
  'effect.failed.modifyGrant': grantStep,
} as const;

const beginClose =
  (goal: CloseGoal) =>
  ({ context, event, enqueue }: EnqueueArgs): void => {
    const { patch, actions } = decideClose(context, event, goal);
    enqueue.assign(patch);
    for (const a of actions) enqueue(a);
  };

const expiryTimer = (validUntil: string): CredentialIntentAction => ({
  type: 'scheduleTimer',
  params: { key: EXPIRE_TIMER, dueAt: validUntil, event: { type: 'timer.expire' } },
});

/** Starts the update saga for a window: each grant changes in place or is re-issued; expiry follows. */
function beginUpdate(
  c: CredentialContext,
  window: { validFrom: string; validUntil: string },
  at: string,
  enqueue: CredentialEnqueue,
): void {
  const next: CredentialContext = { ...c, ...window, updates: (c.updates ?? 0) + 1, pendingUpdate: null };
  const s = grants.startUpdate(owner(next), c.grants);
  enqueue.assign({ ...window, updates: next.updates, pendingUpdate: null, grants: s.grants, updatedAt: at });
  enqueue(expiryTimer(window.validUntil));
  for (const a of stepActions(s)) enqueue(a);
}

const windowChanged = (c: CredentialContext, e: { validFrom: string; validUntil: string }) =>
  e.validFrom !== c.validFrom || e.validUntil !== c.validUntil;

export const credentialMachine = setup({
  types: {
    context: {} as CredentialContext,
    events: {} as CredentialEvent,
    input: {} as CredentialInput,
  },
  actions: {
    callVendor: (_: unknown, _params: VendorIntent) => {},
    scheduleTimer: (_: unknown, _params: TimerIntent) => {},
    cancelTimer: (_: unknown, _params: { key: string }) => {},
    publishEvent: (_: unknown, _params: DomainEventIntent) => {},
    applyGrantEvent: enqueueActions(applyGrantEvent),
  },
  guards: {
    hasUnresolvedRooms: ({ event }) =>
      event.type === 'credential.issue' && (event.unresolved.length > 0 || event.targets.length === 0),
    /** Duplicate or stale outcomes leave the grants untouched: then nothing is written at all. */
    grantEventApplies: ({ context, event }) => decideGrants(context, event).grants !== context.grants,
    allIssued: ({ context }) => grants.allIssued(context.grants),
    anyFailed: ({ context }) => grants.anyFailed(context.grants),
    updateChangesWindow: ({ context, event }) =>
      event.type === 'credential.update' && windowChanged(context, event),
    hasPendingUpdate: ({ context }) => grants.allIssued(context.grants) && !!context.pendingUpdate,
    allClosedAs: ({ context }, params: { goal: CloseGoal }) =>
      grants.allClosed(context.grants) && context.closeGoal === params.goal,
  },
}).createMachine({
  id: 'credential',
  context: ({ input }) => ({
    id: input.id,
    tenantId: input.tenantId,
    propertyId: '',
    reservationId: null,
    holder: { kind: 'guest', ref: '' },
    kind: 'pin',
    rooms: [],
    areas: [],
    validFrom: '',
    validUntil: '',
    secret: null,
    grants: [],
    closeGoal: null,
    revokeReason: null,
    failure: null,
    retry: defaultRetryPolicy,
    createdAt: '',
    updatedAt: '',
  }),
  initial: 'new',
  states: {
    new: {
      on: {
        // Revoked before it was ever issued (a reservation's events overtaking each other after a crash,
        // or a cancellation for a kind never requested): a tombstone, so a late issue cannot revive it.
        'credential.revoke': {
          target: 'tombstoned',
          actions: assign(({ event }) => ({ revokeReason: event.reason, updatedAt: event.at })),
        },
        'credential.issue': [
          {
            guard: 'hasUnresolvedRooms',
            target: 'failed',
            actions: [
              assign(({ event }) => ({
                ...describe(event),
                closeGoal: 'failed' as const,
                failure: {
                  code: event.unresolved[0]?.code ?? 'NO_LOCK_FOR_ROOM',
                  reason: `no lock for room(s) ${event.unresolved.map((u) => u.roomId).join(', ') || event.rooms.join(', ')}`,
                },
              })),
              { type: 'publishEvent', params: { verb: 'requested' } },
              {
                type: 'publishEvent',
                params: ({ context }) => ({ verb: 'failed', data: { failure: context.failure } }),
              },
            ],
          },
          {
            target: 'issuing',
            actions: [
              assign(({ event }) => describe(event)),
              { type: 'publishEvent', params: { verb: 'requested' } },
              enqueueActions(applyGrantEvent),
            ],
          },
        ],
      },
    },
    issuing: {
      always: [
        {
          guard: 'allIssued',
          target: 'active',
          actions: [
            {
              type: 'publishEvent',
              params: ({ context }) => ({ verb: 'issued', data: grantSummary(context) }),
            },
            {
              type: 'scheduleTimer',
              params: ({ context }) => ({
                key: EXPIRE_TIMER,
                dueAt: context.validUntil,
                event: { type: 'timer.expire' },
              }),
            },
          ],
        },
        { guard: 'anyFailed', target: 'revoking', actions: enqueueActions(beginClose('failed')) },
      ],
      on: {
        ...grantOutcomes,
        'credential.revoke': { target: 'revoking', actions: enqueueActions(beginClose('revoked')) },
      },
    },
    active: {
      // A lost grant that cannot be issued again fails the credential, as during issuing.
      always: { guard: 'anyFailed', target: 'revoking', actions: enqueueActions(beginClose('failed')) },
      on: {
        'credential.update': {
          guard: 'updateChangesWindow',
          target: 'updating',
          actions: enqueueActions(({ context, event, enqueue }) => {
            if (event.type === 'credential.update') beginUpdate(context, event, event.at, enqueue);
          }),
        },
        'credential.revoke': { target: 'revoking', actions: enqueueActions(beginClose('revoked')) },
        'timer.expire': { target: 'revoking', actions: enqueueActions(beginClose('expired')) },
        // A grant the vendor lost is replaced while the credential stays active.
        'credential.grantLost': grantStep,
        ...grantOutcomes,
      },
    },
    updating: {
      always: [
        {
          // Another window arrived meanwhile: start it now that this one is applied.
          guard: 'hasPendingUpdate',
          target: 'updating',
          reenter: true,
          actions: enqueueActions(({ context, event, enqueue }) => {
            if (context.pendingUpdate) beginUpdate(context, context.pendingUpdate, event.at, enqueue);
          }),
        },
        {
          guard: 'allIssued',
          target: 'active',
          actions: {
            type: 'publishEvent',
            params: ({ context }) => ({
              verb: 'updated',
              data: {
                validFrom: context.validFrom,
                validUntil: context.validUntil,
                ...grantSummary(context),
              },
            }),
          },
        },
        { guard: 'anyFailed', target: 'revoking', actions: enqueueActions(beginClose('failed')) },
      ],
      on: {
        ...modifyOutcomes,
        ...grantOutcomes,
        'credential.update': {
          actions: assign(({ context, event }) =>
            event.type === 'credential.update' && windowChanged(context, event)
              ? {
                  pendingUpdate: { validFrom: event.validFrom, validUntil: event.validUntil },
                  updatedAt: event.at,
                }
              : {},
          ),
        },
        'credential.revoke': { target: 'revoking', actions: enqueueActions(beginClose('revoked')) },
        'timer.expire': { target: 'revoking', actions: enqueueActions(beginClose('expired')) },
      },
    },
    revoking: {
      always: [
        { guard: { type: 'allClosedAs', params: { goal: 'revoked' } }, target: 'revoked' },
        { guard: { type: 'allClosedAs', params: { goal: 'expired' } }, target: 'expired' },
        { guard: { type: 'allClosedAs', params: { goal: 'failed' } }, target: 'failed' },
      ],
      on: {
        ...modifyOutcomes,
        ...grantOutcomes,
      },
    },
    revoked: {
      type: 'final',
      entry: {
        type: 'publishEvent',
        params: ({ context }) => ({ verb: 'revoked', data: { reason: context.revokeReason } }),
      },
    },
    expired: { type: 'final', entry: { type: 'publishEvent', params: { verb: 'expired' } } },
    failed: { type: 'final' },
    tombstoned: { type: 'final' },
  },
});

function describe(e: IssueCredentialEvent) {
  return {
    propertyId: e.propertyId,
    reservationId: e.reservationId,
    holder: e.holder,
    kind: e.kind,
    rooms: e.rooms,
    areas: e.areas,
    validFrom: e.validFrom,
    validUntil: e.validUntil,
    secret: e.secret,
    spareSecrets: e.spareSecrets ?? [],
    pinIndex: 0,
    retry: e.retry ?? defaultRetryPolicy,
    createdAt: e.at,
    updatedAt: e.at,
  };
}

function grantSummary(c: CredentialContext) {
  return {
    grants: c.grants.map((g) => ({ lockDeviceId: g.lockDeviceId, vendor: g.vendor, vendorRef: g.vendorRef })),
  };
}

export type CredentialSnapshot = SnapshotFrom<typeof credentialMachine>;

/** The contract status of a credential snapshot. Pure. */
export function credentialStatus(s: CredentialSnapshot): CredentialStatus {
  switch (s.value) {
    case 'new':
      return 'requested';
    case 'tombstoned':
      return 'revoked';
    case 'revoking':
      return s.context.closeGoal === 'failed' ? 'failed' : 'revoking';
    default:
      return s.value as CredentialStatus;
  }
}
