/**
 * The key credential: issue → active ⇄ updating → revoking → revoked | expired | failed.
 *
 * It owns the wanted state of its grants (one grant machine per lock, `grant.ts`, composed purely by
 * `credentialGrants.ts`): a window change, a new PIN or a close is told to every grant at once, and the
 * credential's own state follows the grants' summaries — active when every grant holds what is wanted,
 * revoked only when every grant is gone at the vendor. A revoke the vendor refuses keeps the credential
 * `revoking`, says why in `failure`, and publishes `revoke_stalled` once.
 *
 * Stale inputs are recognized by data: outcomes by their operation and attempt (in the grant), timers by
 * their token or their time (`timer.expire` counts only at or after the current `validUntil`), and updates
 * from the reservation by their sequence number.
 *
 * Pure: time arrives in events (`at`), secrets arrive sealed, vendor calls, timers, domain events and
 * messages to other actors are intents the runtime journals in the same transaction.
 */
import { and, assign, enqueueActions, type SnapshotFrom, setup } from 'xstate';
import * as grants from './credentialGrants.ts';
import type { Grant, GrantIntentAction, GrantStep } from './credentialGrants.ts';
import type { GrantEvent } from './grant.ts';
import type { DomainEventIntent, GrantTarget, KeyKind, MessageIntent, TimerIntent } from './intents.ts';
import { defaultRetryPolicy, type RetryPolicy } from './retryPolicy.ts';
import { ignore } from './totality.ts';

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

export interface CredentialWindow {
  validFrom: string;
  validUntil: string;
}

export interface CredentialContext extends CredentialWindow {
  id: string;
  tenantId: string;
  propertyId: string;
  reservationId: string | null;
  holder: Holder;
  kind: KeyKind;
  rooms: string[];
  areas: string[];
  /** The PIN (or card number, app account), sealed by the runtime's secret box; null for kinds without. */
  secret: string | null;
  /** Sealed alternate PINs not used yet; `pinIndex` counts the PINs used up (0: the first). */
  spareSecrets: string[];
  pinIndex: number;
  grants: Grant[];
  /** Where closing ends: revoked, expired or failed. */
  closeGoal: 'revoked' | 'expired' | 'failed' | null;
  revokeReason: string | null;
  failure: CredentialFailure | null;
  retry: RetryPolicy;
  /** Windows applied after the first. */
  updates: number;
  /** The reservation's sequence number of the window applied last (null: none from a reservation). */
  windowSeq: number | null;
  /**
   * When the REST window applied last was asked for (its `at`); absent in snapshots from before it was kept.
   * A REST window asked earlier that arrives later (it took a longer way: a partition's term ending, a
   * sweeper's resend) is older than the one applied and changes nothing.
   */
  restWindowAt?: string | null;
  /** An update that arrived before the issue (the reservation's messages may overtake each other). */
  deferredUpdate: (CredentialWindow & { seq: number | null }) | null;
  /**
   * Stalled revokes already reported (`revoke_stalled`), by lock and generation: each is published once, and
   * a close starts the list afresh (a stall while replacing a grant does not hide one at check-out).
   */
  stallsReported: string[];
  /**
   * Rooms whose lock was replaced (a vendor cutover), in progress: the grant on the new lock is issued
   * first, and only then the one on the old lock closed and retired. Absent in snapshots from before.
   */
  moves?: RoomMove[];
  /** New locks' grants of moves that failed, closing: retired once gone (absent in snapshots from before). */
  dropped?: string[];
  /**
   * Of those, the locks a resent issue may have made the credential on, which its rooms no longer have
   * (`mayHaveRun`): revoked by look-up, and never the guest's — their revoke holds nothing up. Absent before.
   */
  swept?: string[];
  /**
   * Locks of rooms the reservation no longer has (`credential.changeRooms`): their grants close once every
   * other grant holds the credential — the new rooms are issued before the old ones are revoked.
   */
  dropping?: string[];
  /** The reservation's number of the rooms applied last, and a change that arrived before the issue. */
  roomsSeq?: number | null;
  deferredRooms?: { rooms: string[]; targets: GrantTarget[]; seq: number } | null;
  /** Who asked for it through REST (`user:<subject>`): the one principal that may read a changed PIN. */
  issuedBy?: string | null;
  /** When its close (revoke, expiry, failure) was asked for (absent before a close, and in older snapshots). */
  closeRequestedAt?: string;
  /**
   * Vendor-chosen PINs (`<lock>@<generation>`) the issuing answer gave; any other a lock holds is new (a room
   * moved onto a vendor that chooses PINs), readable once by the issuer. Absent in snapshots from before.
   */
  pinsAtIssue?: string[];
  /** New PINs already announced by an `updated` event. */
  pinsAnnounced?: string[];
  createdAt: string;
  updatedAt: string;
}

/** A room moving from its old lock device to a new one. */
export interface RoomMove {
  roomId: string;
  from: string;
  to: string;
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
  /**
   * A caller's credential for a reservation (REST with a `reservationId`): the reservation actor it joins,
   * so the reservation's new dates and its end reach it. Absent for the credentials a reservation derives.
   */
  linkTo?: string | null;
  /** The reservation's sequence number of this window (derived credentials). */
  windowSeq?: number | null;
  /**
   * A caller's credential for a member of staff (REST, holder staff): the staff actor it joins, so the
   * account's deactivation reaches it.
   */
  linkToStaff?: string | null;
  /** The REST caller who asked for it (`user:<subject>`); absent for credentials the service derives. */
  issuedBy?: string | null;
  /**
   * Already written without the service: a desk's provisional card, reconciled (`/sync/v1/push`). Its grants
   * start issued with this vendor reference; no vendor call is made.
   */
  adopted?: { vendorRef: string } | null;
  /**
   * Set by the runtime, never by a sender: the message is sent again (its sender's sweeper), and a turn of it
   * that ended without a commit may have issued on these locks (those whose vendor issues in the turn). The
   * issue is then applied as it was sent — those calls made exactly that — and what they may have made on a
   * lock no longer wanted (the credential revoked meanwhile, or its rooms changed) is revoked.
   */
  mayHaveRun?: string[];
}

export type CredentialOutcomeEvent = Extract<GrantEvent, { operationId: string }>;

export type CredentialEvent =
  | IssueCredentialEvent
  /** `priority`: ahead of ordinary vendor work (a deactivated account's keys). */
  | { type: 'credential.revoke'; at: string; reason: string; priority?: boolean }
  /**
   * A new window, or a new start or end only (a PATCH names what it changes; the rest stays as it is now, not
   * as the caller last read it); `seq` orders the reservation's updates (REST updates carry none and apply
   * in arrival order).
   */
  | { type: 'credential.update'; at: string; validFrom?: string; validUntil?: string; seq?: number | null }
  /** The vendor says the grant on this lock (its reference) never reached the lock. */
  | { type: 'credential.grantLost'; at: string; lockDeviceId: string; vendorRef: string }
  /**
   * The room's lock was replaced (a vendor cutover): the credential gets a grant on the new lock, and its
   * grant on the old one is revoked only once the new one is issued — a guest is never without a key.
   */
  | { type: 'credential.moveRoom'; at: string; roomId: string; from: string; target: GrantTarget }
  /** The reservation's rooms changed: its locks (planned), numbered like its windows. */
  | { type: 'credential.changeRooms'; at: string; rooms: string[]; targets: GrantTarget[]; seq: number }
  | { type: 'timer.expire'; at: string; validUntil?: string }
  | { type: 'timer.retryGrant'; at: string; lockDeviceId: string; token?: number }
  | CredentialOutcomeEvent;

export const credentialEventTypes = [
  'credential.issue',
  'credential.revoke',
  'credential.update',
  'credential.grantLost',
  'credential.moveRoom',
  'credential.changeRooms',
  'timer.expire',
  'timer.retryGrant',
  'effect.done.issueGrant',
  'effect.failed.issueGrant',
  'effect.done.modifyGrant',
  'effect.failed.modifyGrant',
  'effect.done.revokeGrant',
  'effect.failed.revokeGrant',
] as const satisfies readonly CredentialEvent['type'][];

const EXPIRE_TIMER = 'expire';
type CloseGoal = 'revoked' | 'expired' | 'failed';

type CredentialIntentAction =
  | GrantIntentAction
  | { type: 'publishEvent'; params: DomainEventIntent }
  | { type: 'sendMessage'; params: MessageIntent };

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

/** Which grants an event is for, and the grant event it becomes; null when it is for none. */
function routed(c: CredentialContext, e: CredentialEvent): { indexes: number[]; event: GrantEvent } | null {
  if ('operationId' in e) {
    const i = grants.byOperation(c.grants, e.operationId);
    return i < 0 ? null : { indexes: [i], event: e };
  }
  if (e.type === 'timer.retryGrant') {
    const i = grants.byLock(c.grants, e.lockDeviceId);
    return i < 0 ? null : { indexes: [i], event: e };
  }
  if (e.type === 'credential.grantLost') {
    const i = grants.byLock(c.grants, e.lockDeviceId);
    return i < 0 ? null : { indexes: [i], event: { type: 'grant.lost', at: e.at, vendorRef: e.vendorRef } };
  }
  return null;
}

// The guard and the action of one routed transition see the same event object: its step is computed once.
const routedSteps = new WeakMap<object, { grants: Grant[]; step: GrantStep | null }>();
function routedStep(c: CredentialContext, e: CredentialEvent): GrantStep | null {
  const memo = routedSteps.get(e);
  if (memo && memo.grants === c.grants) return memo.step;
  const r = routed(c, e);
  const step = r ? grants.stepGrants(c.grants, r.indexes, r.event) : null;
  routedSteps.set(e, { grants: c.grants, step });
  return step;
}

function applyStep(s: GrantStep | null, at: string, enqueue: CredentialEnqueue): void {
  if (!s) return;
  enqueue.assign({ grants: s.grants, updatedAt: at });
  for (const a of s.actions) enqueue(a);
}

/** The window an update asks for: what it names, the credential's own for the rest. */
function windowOf(c: CredentialWindow, e: CredentialEvent): CredentialWindow {
  if (e.type !== 'credential.update') return c;
  return { validFrom: e.validFrom ?? c.validFrom, validUntil: e.validUntil ?? c.validUntil };
}

const stallKey = (g: Grant) => `${g.context.lockDeviceId}@${g.context.generation}`;

const expiryTimer = (validUntil: string): CredentialIntentAction => ({
  type: 'scheduleTimer',
  params: { key: EXPIRE_TIMER, dueAt: validUntil, event: { type: 'timer.expire', validUntil } },
});

/** Tells every grant that the credential closes, with the goal it closes to. */
function beginClose(goal: CloseGoal) {
  return ({ context, event, enqueue }: EnqueueArgs): void => {
    const failedGrant = grants.failedIssue(context.grants) ?? grants.refusedPin(context.grants);
    const failure: CredentialFailure | null =
      goal === 'failed'
        ? {
            code: failedGrant?.context.lastError?.code ?? 'FAILED',
            reason: failedGrant?.context.lastError?.message ?? 'a grant could not be issued',
          }
        : context.failure;
    enqueue.assign({
      closeGoal: goal,
      failure,
      stallsReported: [],
      revokeReason: event.type === 'credential.revoke' ? event.reason : context.revokeReason,
      // When the close was asked for: the revoke latency the service's SLO measures ends at `revoked`.
      closeRequestedAt: event.at,
      updatedAt: event.at,
    });
    if (goal !== 'expired') enqueue({ type: 'cancelTimer', params: { key: EXPIRE_TIMER } });
    const priority = event.type === 'credential.revoke' && event.priority === true;
    const s = grants.stepAllGrants(context.grants, {
      type: 'grant.close',
      at: event.at,
      ...(priority ? { priority } : {}),
    });
    applyStep(s, event.at, enqueue);
  };
}

/**
 * Publishes `revoke_stalled` for a grant whose revoke stalled, once per lock and generation. While closing
 * (not from a failed issue, whose failure stays the reason) the credential's `failure` says why.
 */
function reportStall(closing: boolean) {
  return ({ context, event, enqueue }: EnqueueArgs): void => {
    const g = context.grants.find((x) => x.context.stalled && !context.stallsReported.includes(stallKey(x)));
    if (!g) return;
    const stall = {
      code: g.context.lastError?.code ?? 'REVOKE_STALLED',
      reason: `the vendor has not confirmed the revoke on lock ${g.context.lockDeviceId}: ${g.context.lastError?.message ?? 'no answer'}`,
    };
    const failure = closing && context.closeGoal !== 'failed' ? stall : context.failure;
    enqueue.assign({
      stallsReported: [...context.stallsReported, stallKey(g)],
      failure,
      updatedAt: event.at,
    });
    enqueue({
      type: 'publishEvent',
      params: {
        verb: 'revoke_stalled',
        data: { failure: stall, lockDeviceId: g.context.lockDeviceId, generation: g.context.generation },
      },
    });
  };
}

/** Applies a new window: every grant is told, expiry moves. */
function applyWindow({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'credential.update') return;
  const window = windowOf(context, event);
  enqueue.assign({
    ...window,
    updates: context.updates + 1,
    windowSeq: event.seq ?? context.windowSeq,
    ...(event.seq == null ? { restWindowAt: event.at } : {}),
    updatedAt: event.at,
  });
  enqueue(expiryTimer(window.validUntil));
  applyStep(
    grants.stepAllGrants(context.grants, { type: 'grant.want', at: event.at, ...window }),
    event.at,
    enqueue,
  );
}

/** A lock holds the credential's PIN already: every grant moves to the next spare PIN. */
function rotatePin({ context, event, enqueue }: EnqueueArgs): void {
  const [next, ...rest] = context.spareSecrets;
  if (next === undefined) return;
  const pinIndex = context.pinIndex + 1;
  enqueue.assign({ secret: next, spareSecrets: rest, pinIndex, updatedAt: event.at });
  const s = grants.stepAllGrants(context.grants, {
    type: 'grant.repin',
    at: event.at,
    secret: next,
    pinIndex,
  });
  applyStep(s, event.at, enqueue);
}

/** Grants on more locks, wanting what the credential wants now (a moved room's new lock, new rooms). */
const startWanted = (c: CredentialContext, targets: GrantTarget[]) =>
  grants.startGrants(c, targets, {
    validFrom: c.validFrom,
    validUntil: c.validUntil,
    secret: c.secret,
    pinIndex: c.pinIndex,
    open: true,
  });

/**
 * The reservation's new rooms: grants start on the locks it did not have; those of rooms it no longer has are
 * marked to close once every other grant holds the credential (closed at once when none is new).
 */
function changeRooms({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'credential.changeRooms') return;
  // Rooms planned before a cutover name a moving room's old lock: the move's new lock is meant.
  const movedTo = new Map((context.moves ?? []).map((m) => [m.from, m.to]));
  const lockOf = (t: GrantTarget) => movedTo.get(t.lockDeviceId) ?? t.lockDeviceId;
  const wanted = new Set(event.targets.map(lockOf));
  const have = new Set(context.grants.map((g) => g.context.lockDeviceId));
  const adds = event.targets.filter((t) => !have.has(lockOf(t)));
  const dropping = context.grants
    .filter((g) => g.context.want.open && !wanted.has(g.context.lockDeviceId))
    .map((g) => g.context.lockDeviceId);
  // A room taken back whose lock's grant is closing or gone (given up, or swept): reopened, so it is issued
  // again once what is closing is gone (else it would be retired, and the room left without the PIN).
  const reopened = context.grants.flatMap((g, i) =>
    !g.context.want.open && wanted.has(g.context.lockDeviceId) ? [i] : [],
  );
  const back = new Set(reopened.map((i) => context.grants[i]!.context.lockDeviceId));
  const r = grants.stepGrants(context.grants, reopened, {
    type: 'grant.reopen',
    at: event.at,
    validFrom: context.validFrom,
    validUntil: context.validUntil,
    secret: context.secret,
    pinIndex: context.pinIndex,
  });
  const s = startWanted(context, adds);
  enqueue.assign({
    grants: [...(r?.grants ?? context.grants), ...s.grants],
    rooms: event.rooms,
    roomsSeq: event.seq,
    dropping,
    ...(back.size > 0
      ? {
          dropped: (context.dropped ?? []).filter((lock) => !back.has(lock)),
          swept: (context.swept ?? []).filter((lock) => !back.has(lock)),
        }
      : {}),
    updatedAt: event.at,
  });
  for (const a of [...(r?.actions ?? []), ...s.actions]) enqueue(a);
}

/** An event's time; an `always` step (no event of its own) takes the credential's last. */
const atOf = (c: CredentialContext, e: CredentialEvent | { type: string }) =>
  'at' in e && typeof e.at === 'string' ? e.at : c.updatedAt;

/**
 * A vendor-chosen PIN's identity: its lock, the grant's generation and the vendor's reference of what it
 * made (a replaced grant, or a later grant on a lock the credential left and came back to, is another PIN).
 */
export const pinRef = (g: { lockDeviceId: string; generation: number; vendorRef: string | null }) =>
  `${g.lockDeviceId}@${g.generation}:${g.vendorRef ?? ''}`;
/**
 * The grants whose lock holds a PIN its vendor chose, by that PIN's identity: only grants that hold their
 * generation (issued, or changing its window) — one being replaced or closed holds a PIN about to go.
 */
const vendorPins = (grantList: Grant[]) =>
  grantList
    .filter((g) => g.context.vendorSecret && grants.holdsItsCredential(g))
    .map((g) => ({ g: g.context, ref: pinRef(g.context) }));
/** Vendor-chosen PINs the issuing answer did not give (a move onto a vendor that chooses PINs). Pure. */
export function newPinRefs(c: Pick<CredentialContext, 'grants' | 'pinsAtIssue'>): Set<string> {
  // Before the issue answered, every PIN is the issue's own.
  if (!c.pinsAtIssue) return new Set();
  const known = new Set(c.pinsAtIssue);
  return new Set(vendorPins(c.grants).flatMap((p) => (known.has(p.ref) ? [] : [p.ref])));
}

/**
 * `updated` naming the doors whose PIN a vendor chose since the issue and that no event named yet (each
 * once), with the assignment that records them; nothing when there are none (unless `always`). Announced as
 * soon as the lock holds it: a room moved onto a vendor that chooses PINs, or a grant the vendor lost and
 * made again.
 */
function announceNewPins(
  c: CredentialContext,
  grantList: Grant[],
  enqueue: CredentialEnqueue,
  always: boolean,
): void {
  const announced = new Set(c.pinsAnnounced ?? []);
  const fresh = newPinRefs({ grants: grantList, pinsAtIssue: c.pinsAtIssue });
  const doors = vendorPins(grantList).filter((p) => fresh.has(p.ref) && !announced.has(p.ref));
  if (doors.length > 0) enqueue.assign({ pinsAnnounced: [...announced, ...doors.map((p) => p.ref)] });
  if (doors.length === 0 && !always) return;
  enqueue({
    type: 'publishEvent',
    params: {
      verb: 'updated',
      data: {
        validFrom: c.validFrom,
        validUntil: c.validUntil,
        ...grantSummary({ grants: grantList, swept: c.swept }),
        ...(doors.length > 0
          ? { newPins: doors.map((p) => ({ roomId: p.g.roomId, lockDeviceId: p.g.lockDeviceId })) }
          : {}),
      },
    },
  });
}

/** The new lock holds the credential and the old lock's grant is still open (not closing or gone). */
function moveIssued(c: CredentialContext, m: RoomMove): boolean {
  const to = c.grants[grants.byLock(c.grants, m.to)];
  const from = c.grants[grants.byLock(c.grants, m.from)];
  return !!to && !!from && grants.isIssued(to) && from.context.want.open;
}
/** The new lock's grant refused for good: its issue failed, or its PIN (a clash at the new lock). */
function moveFailed(c: CredentialContext, m: RoomMove): boolean {
  const to = c.grants[grants.byLock(c.grants, m.to)];
  return !!to && (grants.isIssueFailed(to) || grants.isPinRefused(to));
}
/** The grants that are the credential's own: not a move's new grant (yet), nor a failed move's. */
const ownGrants = (c: CredentialContext) => {
  const moving = new Set([...(c.moves ?? []).map((m) => m.to), ...(c.dropped ?? [])]);
  return c.grants.filter((g) => !moving.has(g.context.lockDeviceId));
};
const moveDone = (c: CredentialContext, m: RoomMove): boolean => {
  const from = c.grants[grants.byLock(c.grants, m.from)];
  return !!from && grants.isGone(from);
};

/** A staff credential over areas: a master key, whose life is published as `master_key` events too. */
const isMasterKey = (c: CredentialContext) => c.holder.kind === 'staff' && c.areas.length > 0;

/** `master_key.<verb>` beside the credential's own event, for a master key; nothing otherwise. */
function masterKeyEvent(verb: 'issued' | 'revoked', reason?: string) {
  return ({ context, enqueue }: Pick<EnqueueArgs, 'context' | 'enqueue'>): void => {
    if (!isMasterKey(context)) return;
    enqueue({
      type: 'publishEvent',
      params: {
        aggregate: 'master_key',
        verb,
        data: {
          credentialId: context.id,
          staffId: context.holder.ref,
          areas: context.areas,
          validFrom: context.validFrom,
          validUntil: context.validUntil,
          ...(verb === 'revoked'
            ? { reason: reason ?? context.revokeReason ?? 'expired' }
            : { locks: context.grants.length }),
        },
      },
    });
  };
}

/** The grants that are the guest's, or were: all but those a resent issue's sweep is revoking (`swept`). */
function keptGrants(c: Pick<CredentialContext, 'grants' | 'swept'>): Grant[] {
  const swept = new Set(c.swept ?? []);
  return swept.size === 0 ? c.grants : c.grants.filter((g) => !swept.has(g.context.lockDeviceId));
}

function grantSummary(c: Pick<CredentialContext, 'grants' | 'swept'>) {
  return {
    grants: keptGrants(c).map((g) => ({
      lockDeviceId: g.context.lockDeviceId,
      vendor: g.context.vendor,
      vendorRef: g.context.vendorRef,
    })),
  };
}

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
    windowSeq: e.windowSeq ?? null,
    issuedBy: e.issuedBy ?? null,
    createdAt: e.at,
    updatedAt: e.at,
  };
}

/**
 * The issue's targets a turn of it that ended without a commit may have made (the runtime's `mayHaveRun`; never
 * a desk's adopted card, which no call of ours made).
 */
const mayHaveMade = (e: IssueCredentialEvent): GrantTarget[] =>
  e.adopted || !e.mayHaveRun ? [] : e.targets.filter((t) => e.mayHaveRun?.includes(t.lockDeviceId));

/** Grants started closed on what a lost turn may have made: each revokes by look-up, then is gone. */
const sweepGrants = (
  c: CredentialContext,
  targets: GrantTarget[],
  w: CredentialWindow & { secret: string | null },
) =>
  grants.startGrants(
    c,
    targets,
    { validFrom: w.validFrom, validUntil: w.validUntil, secret: w.secret, pinIndex: 0, open: false },
    true,
  );

/** The reservation's deferred update, if it is numbered after `windowSeq` (a REST one, unnumbered, never is). */
function newerDeferredUpdate(c: CredentialContext, windowSeq: number | null | undefined) {
  const d = c.deferredUpdate;
  return d && d.seq !== null && d.seq > (windowSeq ?? -1) ? { ...d, seq: d.seq } : null;
}

/** The window the issue carries, as sent. */
const sentWindow = (e: IssueCredentialEvent): CredentialWindow & { windowSeq: number | null } => ({
  validFrom: e.validFrom,
  validUntil: e.validUntil,
  windowSeq: e.windowSeq ?? null,
});

/**
 * After an issue sent again and applied with its own window (`started`): a newer window from the reservation
 * that overtook it (kept in `before`) is applied as if it had arrived after it — what a lost turn made with the
 * issue's window is then changed.
 */
function applyOvertakingWindow(
  started: CredentialContext,
  before: CredentialContext,
  at: string,
  enqueue: CredentialEnqueue,
): void {
  const d = newerDeferredUpdate(before, started.windowSeq);
  if (!d) return;
  const update: CredentialEvent = {
    type: 'credential.update',
    at,
    ...(d.validFrom ? { validFrom: d.validFrom } : {}),
    ...(d.validUntil ? { validUntil: d.validUntil } : {}),
    seq: d.seq,
  };
  const w = windowOf(started, update);
  if (w.validFrom !== started.validFrom || w.validUntil !== started.validUntil)
    applyWindow({ context: started, event: update, enqueue });
  else enqueue.assign({ windowSeq: d.seq });
}

/** A deferred update from the reservation newer than the window the issue carries wins. */
function issuedWindow(
  c: CredentialContext,
  e: IssueCredentialEvent,
): CredentialWindow & { windowSeq: number | null } {
  const d = newerDeferredUpdate(c, e.windowSeq);
  if (d)
    return {
      validFrom: d.validFrom || e.validFrom,
      validUntil: d.validUntil || e.validUntil,
      windowSeq: d.seq,
    };
  return { validFrom: e.validFrom, validUntil: e.validUntil, windowSeq: e.windowSeq ?? null };
}

/** A routed event that changes a grant is applied; one that changes none (a duplicate, a late answer, a
 * timer or notice about an earlier generation, or about no grant of this credential) is ignored. */
const toGrant = [
  { guard: 'changesAGrant', actions: 'routeToGrant' },
  ignore('changes no grant: a duplicate or late answer, or about an earlier generation'),
] as const;

/** How every live state treats a grant's outcome, its retry timer, and a lost-grant notice. */
const grantEvents = {
  'effect.done.issueGrant': toGrant,
  'effect.failed.issueGrant': toGrant,
  'effect.done.modifyGrant': toGrant,
  'effect.failed.modifyGrant': toGrant,
  'effect.done.revokeGrant': toGrant,
  'effect.failed.revokeGrant': toGrant,
  'timer.retryGrant': toGrant,
  // A grant the vendor lost is revoked and issued again while the credential stays as it is.
  'credential.grantLost': toGrant,
} as const;

/** How a closed credential treats anything that still arrives. */
function closedTo(what: string) {
  return {
    'credential.issue': ignore(`${what}: a credential is issued once`),
    'credential.revoke': ignore(`${what}: nothing left to revoke`),
    'credential.update': ignore(`${what}: a closed credential is not reopened`),
    'credential.grantLost': ignore(`${what}: every grant is gone`),
    'credential.moveRoom': ignore(`${what}: no grant is left to move`),
    'credential.changeRooms': ignore(`${what}: a closed credential is not reopened`),
    'timer.expire': ignore(`${what}: a timer set before it closed`),
    'timer.retryGrant': ignore(`${what}: a timer set before it closed`),
    'effect.done.issueGrant': ignore(`${what}: nothing is in flight, a duplicate or late answer`),
    'effect.failed.issueGrant': ignore(`${what}: nothing is in flight, a duplicate or late answer`),
    'effect.done.modifyGrant': ignore(`${what}: nothing is in flight, a duplicate or late answer`),
    'effect.failed.modifyGrant': ignore(`${what}: nothing is in flight, a duplicate or late answer`),
    'effect.done.revokeGrant': ignore(`${what}: nothing is in flight, a duplicate or late answer`),
    'effect.failed.revokeGrant': ignore(`${what}: nothing is in flight, a duplicate or late answer`),
  } as const;
}

/** Checked first in every live state: a refused PIN moves to the next; a failed grant fails the credential. */
const grantTroubles = [
  { guard: 'pinRefusedWithSpare', actions: 'rotatePin' },
  { guard: 'grantFailed', target: '#credential.revoking', actions: 'closeAsFailed' },
] as const;
/**
 * Room moves, checked in every live state: a new grant issued closes the old one; an old one gone is retired
 * (removed: the credential holds what it wants without it).
 */
const notMovable = ignore('no grant on the old lock, or moved there already');
const notNewerRooms = ignore('rooms the reservation numbered no later than those applied');
const roomMoves = [
  { guard: 'dropsReady', actions: 'closeDropping' },
  { guard: 'moveFailed', actions: 'abandonMove' },
  { guard: 'moveIssued', actions: 'closeMovedFrom' },
  { guard: 'moveDone', actions: 'retireMoved' },
] as const;
/** Reports a stalled revoke once (in any live state: a replaced grant's revoke can stall too). */
const stallReport = { guard: 'newlyStalled', actions: 'reportStall' } as const;
const closingStallReport = { guard: 'newlyStalled', actions: 'reportClosingStall' } as const;

export const credentialMachine = setup({
  types: {
    context: {} as CredentialContext,
    events: {} as CredentialEvent,
    input: {} as CredentialInput,
  },
  actions: {
    callVendor: (_: unknown, _params: GrantIntentAction['params']) => {},
    scheduleTimer: (_: unknown, _params: TimerIntent) => {},
    cancelTimer: (_: unknown, _params: { key: string }) => {},
    publishEvent: (_: unknown, _params: DomainEventIntent) => {},
    sendMessage: (_: unknown, _params: MessageIntent) => {},
    masterKeyIssued: enqueueActions(masterKeyEvent('issued')),
    /** The PINs vendors chose that the issuing answer gives: any later one is new to the guest. */
    recordIssuedPins: assign(({ context }) => ({
      pinsAtIssue: vendorPins(context.grants).map((p) => p.ref),
    })),
    /** `updated` once every grant holds what the credential wants (naming any new PIN not named yet). */
    publishUpdated: enqueueActions(({ context, enqueue }) =>
      announceNewPins(context, context.grants, enqueue, true),
    ),
    masterKeyRevoked: enqueueActions(masterKeyEvent('revoked')),
    /**
     * A master key that fails after it was announced issued (a lock lost it for good) no longer opens its
     * doors: announced revoked too, or staff systems would count it live. One that never became active was
     * never announced (`pinsAtIssue` is recorded on becoming active).
     */
    masterKeyFailed: enqueueActions(({ context, enqueue }) => {
      if (context.pinsAtIssue) masterKeyEvent('revoked', 'failed')({ context, enqueue });
    }),
    routeToGrant: enqueueActions(({ context, event, enqueue }) => {
      const s = routedStep(context, event);
      applyStep(s, event.at, enqueue);
      if (s) announceNewPins(context, s.grants, enqueue, false);
    }),
    start: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'credential.issue') return;
      const base = { ...context, ...describe(event) };
      // A room change the reservation numbered after this issue's rooms arrived first: its locks win.
      const dr = context.deferredRooms;
      const rooms = dr && dr.seq > (event.windowSeq ?? -1) ? dr : null;
      const targets = rooms ? rooms.targets : event.targets;
      // Sent again, the issue may have been made on some locks by a turn that ended without a commit (exactly
      // as sent: the look-up finds it). Those still wanted get the issue's own window, and a newer one follows
      // as a change (below); those the newer rooms no longer have are swept (revoked by look-up) at once.
      const made = mayHaveMade(event).map((t) => t.lockDeviceId);
      const wanted = new Set(targets.map((t) => t.lockDeviceId));
      const sweep = mayHaveMade(event).filter((t) => !wanted.has(t.lockDeviceId));
      const asSent = made.some((lock) => wanted.has(lock));
      const window = asSent ? sentWindow(event) : issuedWindow(context, event);
      const c = {
        ...base,
        ...window,
        ...(rooms ? { rooms: rooms.rooms, roomsSeq: rooms.seq } : {}),
        deferredUpdate: null,
        deferredRooms: null,
      };
      const want = {
        validFrom: c.validFrom,
        validUntil: c.validUntil,
        secret: c.secret,
        pinIndex: 0,
        open: true,
      };
      const s = event.adopted
        ? grants.adoptGrants(c, targets, want, event.adopted.vendorRef, event.at)
        : grants.startGrants(c, targets, want);
      const swept = sweepGrants(c, sweep, want);
      const started = {
        ...c,
        grants: [...s.grants, ...swept.grants],
        // Retired once gone, and never the credential's own (their failures are not its own).
        ...(sweep.length > 0
          ? {
              dropped: [...(c.dropped ?? []), ...sweep.map((t) => t.lockDeviceId)],
              swept: [...(c.swept ?? []), ...sweep.map((t) => t.lockDeviceId)],
            }
          : {}),
      };
      enqueue.assign(started);
      enqueue({ type: 'publishEvent', params: { verb: 'requested' } });
      enqueue(expiryTimer(c.validUntil));
      for (const a of [...s.actions, ...swept.actions]) enqueue(a);
      if (asSent) applyOvertakingWindow(started, context, event.at, enqueue);
      // A caller's credential for a reservation joins the reservation's list, so its dates and end reach it.
      if (event.linkTo)
        enqueue({
          type: 'sendMessage',
          params: {
            intent: 'sendMessage',
            operationId: `${c.id}:link`,
            to: { type: 'reservation', id: event.linkTo },
            event: { type: 'reservation.credentialLinked', at: event.at, credentialId: c.id, kind: c.kind },
          },
        });
      if (event.linkToStaff)
        enqueue({
          type: 'sendMessage',
          params: {
            intent: 'sendMessage',
            operationId: `${c.id}:staff`,
            to: { type: 'staff', id: event.linkToStaff },
            event: {
              type: 'staff.credentialLinked',
              at: event.at,
              credentialId: c.id,
              kind: c.kind,
              propertyId: c.propertyId,
            },
          },
        });
    }),
    failUnresolved: assign(({ event }) => {
      if (event.type !== 'credential.issue') return {};
      return {
        ...describe(event),
        closeGoal: 'failed' as const,
        failure: {
          code: event.unresolved[0]?.code ?? 'NO_LOCK_FOR_ROOM',
          reason: `no lock for room(s) ${event.unresolved.map((u) => u.roomId).join(', ') || event.rooms.join(', ')}`,
        },
      };
    }),
    deferUpdate: assign(({ context, event }) => {
      if (event.type !== 'credential.update') return {};
      const d = context.deferredUpdate;
      if (d && (event.seq ?? -1) <= (d.seq ?? -1)) return {};
      return {
        deferredUpdate: {
          validFrom: event.validFrom ?? d?.validFrom ?? '',
          validUntil: event.validUntil ?? d?.validUntil ?? '',
          seq: event.seq ?? null,
        },
      };
    }),
    applyWindow: enqueueActions(applyWindow),
    recordWindowSeq: assign(({ context, event }) => ({
      windowSeq: event.type === 'credential.update' && event.seq != null ? event.seq : context.windowSeq,
    })),
    rotatePin: enqueueActions(rotatePin),
    deferRooms: assign(({ context, event }) => {
      if (event.type !== 'credential.changeRooms') return {};
      const d = context.deferredRooms;
      if (d && event.seq <= d.seq) return {};
      return { deferredRooms: { rooms: event.rooms, targets: event.targets, seq: event.seq } };
    }),
    changeRooms: enqueueActions(changeRooms),
    /** Every grant to keep holds the credential: those of the rooms given up close, and retire once gone. */
    closeDropping: enqueueActions(({ context, event, enqueue }) => {
      const at = atOf(context, event);
      const drop = context.dropping ?? [];
      const indexes = drop.map((lock) => grants.byLock(context.grants, lock)).filter((i) => i >= 0);
      enqueue.assign({ dropping: [], dropped: [...(context.dropped ?? []), ...drop], updatedAt: at });
      applyStep(grants.stepGrants(context.grants, indexes, { type: 'grant.close', at }), at, enqueue);
    }),
    /** A grant on the room's new lock, wanting what the credential wants now; the old one stays open. */
    startMove: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'credential.moveRoom') return;
      const s = startWanted(context, [event.target]);
      enqueue.assign({
        grants: [...context.grants, ...s.grants],
        moves: [
          ...(context.moves ?? []),
          { roomId: event.roomId, from: event.from, to: event.target.lockDeviceId },
        ],
        updatedAt: event.at,
      });
      for (const a of s.actions) enqueue(a);
    }),
    /** The new lock holds it: the old lock's grant closes (revoked at its vendor). */
    closeMovedFrom: enqueueActions(({ context, event, enqueue }) => {
      const m = (context.moves ?? []).find((x) => moveIssued(context, x));
      if (!m) return;
      const at = atOf(context, event);
      applyStep(
        grants.stepGrants(context.grants, [grants.byLock(context.grants, m.from)], {
          type: 'grant.close',
          at,
        }),
        at,
        enqueue,
      );
    }),
    /**
     * The new lock refused the credential for good (or its PIN, which is not rotated for a move: the guest
     * keeps the PIN the other doors know): the move is given up, its grant closed and retired; the old lock
     * keeps the credential. `move_failed` says so (a vendor switch moves it again on its next pass).
     */
    abandonMove: enqueueActions(({ context, event, enqueue }) => {
      const m = (context.moves ?? []).find((x) => moveFailed(context, x));
      if (!m) return;
      const at = atOf(context, event);
      const i = grants.byLock(context.grants, m.to);
      const failure = context.grants[i]?.context.lastError ?? null;
      enqueue.assign({
        moves: (context.moves ?? []).filter((x) => x !== m),
        dropped: [...(context.dropped ?? []), m.to],
        updatedAt: at,
      });
      applyStep(grants.stepGrants(context.grants, [i], { type: 'grant.close', at }), at, enqueue);
      enqueue({
        type: 'publishEvent',
        params: {
          verb: 'move_failed',
          data: {
            roomId: m.roomId,
            lockDeviceId: m.to,
            failure: failure ? { code: failure.code, reason: failure.message } : null,
          },
        },
      });
    }),
    /**
     * An old lock's grant is gone at its vendor (a move's, a room given up, a failed move's, a sweep's): it leaves
     * the list, and the move is over.
     */
    retireMoved: assign(({ context }) => {
      const done = (context.moves ?? []).filter((x) => moveDone(context, x));
      const retired = new Set([
        ...done.map((x) => x.from),
        ...(context.dropped ?? []).filter((lock) => {
          const g = context.grants[grants.byLock(context.grants, lock)];
          return !g || grants.isGone(g);
        }),
      ]);
      return {
        grants: context.grants.filter((g) => !(retired.has(g.context.lockDeviceId) && grants.isGone(g))),
        moves: (context.moves ?? []).filter((x) => !done.includes(x)),
        dropped: (context.dropped ?? []).filter((lock) => !retired.has(lock)),
        ...(context.swept ? { swept: context.swept.filter((lock) => !retired.has(lock)) } : {}),
      };
    }),
    closeAsRevoked: enqueueActions(beginClose('revoked')),
    closeAsExpired: enqueueActions(beginClose('expired')),
    closeAsFailed: enqueueActions(beginClose('failed')),
    /**
     * A revoked credential's issue sent again: what the lost turn may have made, on the locks the issue named,
     * is revoked by the issue's operation ids (a look-up finds it, or finds nothing).
     */
    sweep: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'credential.issue') return;
      const c = { ...context, ...describe(event), revokeReason: context.revokeReason, stallsReported: [] };
      const s = sweepGrants(c, mayHaveMade(event), c);
      enqueue.assign({ ...c, grants: s.grants });
      for (const a of s.actions) enqueue(a);
    }),
    tombstone: assign(({ event }) =>
      event.type === 'credential.revoke' ? { revokeReason: event.reason, updatedAt: event.at } : {},
    ),
    reportStall: enqueueActions(reportStall(false)),
    reportClosingStall: enqueueActions(reportStall(true)),
    /** A stall that passed: the credential closed after all, so its failure no longer holds. */
    clearStallFailure: assign(({ context }) =>
      context.stallsReported.length > 0 && context.closeGoal !== 'failed' ? { failure: null } : {},
    ),
  },
  guards: {
    /** An issue sent again that a lost turn may have made on some lock (not a desk's card, which it never is). */
    sentAgain: ({ event }) => event.type === 'credential.issue' && mayHaveMade(event).length > 0,
    allGone: ({ context }) => grants.allGone(context.grants),
    hasUnresolvedRooms: ({ event }) =>
      event.type === 'credential.issue' && (event.unresolved.length > 0 || event.targets.length === 0),
    /** An outcome, timer or notice that changes a grant (duplicates and stale ones change nothing). */
    changesAGrant: ({ context, event }) => routedStep(context, event) !== null,
    /**
     * A window from the reservation older (by its number) than one applied is stale; a REST window (no number)
     * asked for before the REST window applied last is too.
     */
    newerUpdate: ({ context, event }) =>
      event.type === 'credential.update' &&
      (event.seq == null
        ? !context.restWindowAt || event.at >= context.restWindowAt
        : context.windowSeq === null || event.seq > context.windowSeq),
    /** The reservation's number moved on with the window it already has: only the number is kept. */
    newerNumberOnly: ({ context, event }) => {
      if (event.type !== 'credential.update' || event.seq == null) return false;
      const w = windowOf(context, event);
      return (
        (context.windowSeq === null || event.seq > context.windowSeq) &&
        w.validFrom === context.validFrom &&
        w.validUntil === context.validUntil
      );
    },
    /** A window that differs from the one it has, and is one (ends after it starts). */
    windowChanged: ({ context, event }) => {
      if (event.type !== 'credential.update') return false;
      const w = windowOf(context, event);
      return (
        (w.validFrom !== context.validFrom || w.validUntil !== context.validUntil) &&
        Date.parse(w.validUntil) > Date.parse(w.validFrom)
      );
    },
    /** An expiry counts at or after the current end; one set for an earlier window is stale. */
    expiryDue: ({ context, event }) =>
      event.type === 'timer.expire' && Date.parse(event.at) >= Date.parse(context.validUntil),
    // A sweep holds nothing up (a stalled revoke of it is reported, and retried); a room given up, a failed
    // move's grant and a move under way do, until their old grants are gone.
    allIssued: ({ context }) => grants.allIssued(keptGrants(context)),
    /**
     * An open grant on the room's old lock (not one closing or about to: the guest no longer has that room),
     * none on the new one, and no move of the room under way.
     */
    movable: ({ context, event }) =>
      event.type === 'credential.moveRoom' &&
      context.grants[grants.byLock(context.grants, event.from)]?.context.want.open === true &&
      !(context.dropping ?? []).includes(event.from) &&
      grants.byLock(context.grants, event.target.lockDeviceId) < 0 &&
      !(context.moves ?? []).some((m) => m.roomId === event.roomId),
    moveIssued: ({ context }) => (context.moves ?? []).some((m) => moveIssued(context, m)),
    moveDone: ({ context }) =>
      (context.moves ?? []).some((m) => moveDone(context, m)) ||
      (context.dropped ?? []).some((lock) => {
        const g = context.grants[grants.byLock(context.grants, lock)];
        return !g || grants.isGone(g);
      }),
    moveFailed: ({ context }) => (context.moves ?? []).some((m) => moveFailed(context, m)),
    newerRooms: ({ context, event }) =>
      event.type === 'credential.changeRooms' && event.seq > (context.roomsSeq ?? -1),
    /** Rooms given up, and every grant kept holds the credential (issued): they may close now. */
    dropsReady: ({ context }) => {
      const drop = new Set(context.dropping ?? []);
      if (drop.size === 0) return false;
      return context.grants
        .filter((g) => !drop.has(g.context.lockDeviceId) && g.context.want.open)
        .every((g) => grants.isIssued(g));
    },
    allGoneAs: ({ context }, params: { goal: CloseGoal }) =>
      grants.allGone(context.grants) && context.closeGoal === params.goal,
    // A move's new grant failing is the move's business (abandonMove), never the credential's.
    pinRefusedWithSpare: ({ context }) =>
      !!grants.refusedPin(ownGrants(context)) && context.spareSecrets.length > 0,
    grantFailed: ({ context }) =>
      !!grants.failedIssue(ownGrants(context)) ||
      (!!grants.refusedPin(ownGrants(context)) && context.spareSecrets.length === 0),
    newlyStalled: ({ context }) =>
      context.grants.some((g) => g.context.stalled && !context.stallsReported.includes(stallKey(g))),
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
    spareSecrets: [],
    pinIndex: 0,
    grants: [],
    closeGoal: null,
    revokeReason: null,
    failure: null,
    retry: defaultRetryPolicy,
    updates: 0,
    windowSeq: null,
    deferredUpdate: null,
    stallsReported: [],
    createdAt: '',
    updatedAt: '',
  }),
  initial: 'new',
  states: {
    new: {
      on: {
        'credential.issue': [
          {
            guard: 'hasUnresolvedRooms',
            target: 'failed',
            // `failed` is published on entering the state, after `requested`.
            actions: ['failUnresolved', { type: 'publishEvent', params: { verb: 'requested' } }],
          },
          { target: 'issuing', actions: 'start' },
        ],
        // Revoked before it was ever issued (a cancellation overtaking the issue): a tombstone, so the late
        // issue cannot revive it.
        'credential.revoke': { target: 'tombstoned', actions: 'tombstone' },
        // Deferred: the reservation's update may overtake its issue; the issue applies it if it is newer.
        'credential.update': {
          actions: 'deferUpdate',
          description: 'deferred: applied by the issue if newer',
        },
        'credential.grantLost': ignore('not issued: no grant to lose'),
        'credential.moveRoom': ignore(
          'not issued: no grant to move (the issue plans on the lock in the room)',
        ),
        // Deferred: the reservation's room change may overtake its issue; the issue applies it if newer.
        'credential.changeRooms': {
          actions: 'deferRooms',
          description: 'deferred: applied by the issue if newer',
        },
        'timer.expire': ignore('not issued: no expiry set'),
        'timer.retryGrant': ignore('not issued: no retry set'),
        'effect.done.issueGrant': ignore('not issued: no call made'),
        'effect.failed.issueGrant': ignore('not issued: no call made'),
        'effect.done.modifyGrant': ignore('not issued: no call made'),
        'effect.failed.modifyGrant': ignore('not issued: no call made'),
        'effect.done.revokeGrant': ignore('not issued: no call made'),
        'effect.failed.revokeGrant': ignore('not issued: no call made'),
      },
    },

    /** Every grant is being issued; windows and PINs that change meanwhile go to the grants at once. */
    issuing: {
      always: [
        ...grantTroubles,
        ...roomMoves,
        stallReport,
        {
          guard: 'allIssued',
          target: 'active',
          actions: [
            {
              type: 'publishEvent',
              params: ({ context }) => ({
                verb: 'issued',
                data: {
                  validFrom: context.validFrom,
                  validUntil: context.validUntil,
                  ...grantSummary(context),
                },
              }),
            },
            'recordIssuedPins',
            'masterKeyIssued',
          ],
        },
      ],
      on: {
        ...grantEvents,
        'credential.issue': ignore('already issued: a repeated request'),
        'credential.moveRoom': [{ guard: 'movable', actions: 'startMove' }, notMovable],
        'credential.changeRooms': [{ guard: 'newerRooms', actions: 'changeRooms' }, notNewerRooms],
        'credential.update': [
          { guard: and(['newerUpdate', 'windowChanged']), actions: 'applyWindow' },
          { guard: 'newerNumberOnly', actions: 'recordWindowSeq' },
          ignore('the window it has, an empty one, or an older one from the reservation than one applied'),
        ],
        'credential.revoke': { target: 'revoking', actions: 'closeAsRevoked' },
        'timer.expire': [
          { guard: 'expiryDue', target: 'revoking', actions: 'closeAsExpired' },
          ignore('set for an earlier window'),
        ],
      },
    },

    /** Every grant holds the window and PIN at its vendor. */
    active: {
      always: [...grantTroubles, ...roomMoves, stallReport],
      on: {
        ...grantEvents,
        // Validity changes run only while updating.
        'effect.done.modifyGrant': ignore('no change runs while active: a duplicate or late answer'),
        'effect.failed.modifyGrant': ignore('no change runs while active: a duplicate or late answer'),
        'credential.issue': ignore('already issued: a repeated request'),
        'credential.moveRoom': [{ guard: 'movable', target: 'updating', actions: 'startMove' }, notMovable],
        'credential.changeRooms': [
          { guard: 'newerRooms', target: 'updating', actions: 'changeRooms' },
          notNewerRooms,
        ],
        'credential.update': [
          { guard: and(['newerUpdate', 'windowChanged']), target: 'updating', actions: 'applyWindow' },
          { guard: 'newerNumberOnly', actions: 'recordWindowSeq' },
          ignore('the window it has, an empty one, or an older one from the reservation than one applied'),
        ],
        'credential.revoke': { target: 'revoking', actions: 'closeAsRevoked' },
        'timer.expire': [
          { guard: 'expiryDue', target: 'revoking', actions: 'closeAsExpired' },
          ignore('set for an earlier window'),
        ],
      },
    },

    /** A new window is on its way to every grant; `updated` once all of them hold it. */
    updating: {
      always: [
        ...grantTroubles,
        ...roomMoves,
        stallReport,
        {
          guard: 'allIssued',
          target: 'active',
          actions: 'publishUpdated',
        },
      ],
      on: {
        ...grantEvents,
        'credential.issue': ignore('already issued: a repeated request'),
        'credential.moveRoom': [{ guard: 'movable', actions: 'startMove' }, notMovable],
        'credential.changeRooms': [{ guard: 'newerRooms', actions: 'changeRooms' }, notNewerRooms],
        'credential.update': [
          { guard: and(['newerUpdate', 'windowChanged']), actions: 'applyWindow' },
          { guard: 'newerNumberOnly', actions: 'recordWindowSeq' },
          ignore('the window it has, an empty one, or an older one from the reservation than one applied'),
        ],
        'credential.revoke': { target: 'revoking', actions: 'closeAsRevoked' },
        'timer.expire': [
          { guard: 'expiryDue', target: 'revoking', actions: 'closeAsExpired' },
          ignore('set for an earlier window'),
        ],
      },
    },

    /** Every grant is being revoked; ends only when the vendor confirms each one gone. */
    revoking: {
      always: [
        closingStallReport,
        { guard: { type: 'allGoneAs', params: { goal: 'revoked' } }, target: 'revoked' },
        { guard: { type: 'allGoneAs', params: { goal: 'expired' } }, target: 'expired' },
        { guard: { type: 'allGoneAs', params: { goal: 'failed' } }, target: 'failed' },
      ],
      on: {
        ...grantEvents,
        'credential.grantLost': ignore('closing: every grant is being revoked anyway'),
        'credential.moveRoom': ignore('closing: every grant is being revoked anyway'),
        'credential.changeRooms': ignore('closing: every grant is being revoked anyway'),
        'credential.issue': ignore('closing: a credential is issued once'),
        'credential.revoke': ignore('already closing'),
        'credential.update': ignore('closing: the window no longer matters'),
        'timer.expire': ignore('already closing'),
      },
    },

    revoked: {
      entry: [
        'clearStallFailure',
        {
          type: 'publishEvent',
          params: ({ context }) => ({ verb: 'revoked', data: { reason: context.revokeReason } }),
        },
        'masterKeyRevoked',
      ],
      on: closedTo('revoked'),
    },
    expired: {
      entry: ['clearStallFailure', { type: 'publishEvent', params: { verb: 'expired' } }, 'masterKeyRevoked'],
      on: closedTo('expired'),
    },
    failed: {
      entry: [
        {
          type: 'publishEvent',
          params: ({ context }) => ({ verb: 'failed', data: { failure: context.failure } }),
        },
        'masterKeyFailed',
      ],
      on: closedTo('failed'),
    },
    /**
     * Revoked before it was issued; its issue may still arrive. Sent the first time, it made nothing and is
     * ignored; sent again, what a lost turn may have made with it is revoked first (`sweeping`).
     */
    tombstoned: {
      on: {
        ...closedTo('revoked before it was issued'),
        'credential.issue': [
          { guard: 'sentAgain', target: 'sweeping', actions: 'sweep' },
          ignore('revoked before it was issued: a credential is issued once'),
        ],
      },
    },

    /**
     * A tombstone's issue sent again: what a turn that ended without a commit may have made is revoked at the
     * vendor, then the tombstone is back. Nothing is announced: the credential never was.
     */
    sweeping: {
      always: [closingStallReport, { guard: 'allGone', target: 'tombstoned' }],
      on: {
        ...grantEvents,
        'effect.done.issueGrant': ignore('sweeping: only revokes are made, a late answer'),
        'effect.failed.issueGrant': ignore('sweeping: only revokes are made, a late answer'),
        'effect.done.modifyGrant': ignore('sweeping: only revokes are made, a late answer'),
        'effect.failed.modifyGrant': ignore('sweeping: only revokes are made, a late answer'),
        'credential.grantLost': ignore('revoked: every grant is being revoked anyway'),
        'credential.moveRoom': ignore('revoked: every grant is being revoked anyway'),
        'credential.changeRooms': ignore('revoked: every grant is being revoked anyway'),
        'credential.issue': ignore('revoked before it was issued: what it may have made is being revoked'),
        'credential.revoke': ignore('revoked already'),
        'credential.update': ignore('revoked: the window no longer matters'),
        'timer.expire': ignore('revoked: no expiry is set'),
      },
    },
  },
});

export type CredentialSnapshot = SnapshotFrom<typeof credentialMachine>;

/** The contract status of a credential snapshot. Pure. */
export function credentialStatus(s: CredentialSnapshot): CredentialStatus {
  switch (s.value) {
    case 'new':
      return 'requested';
    case 'tombstoned':
      return 'revoked';
    // What a lost turn may have made is on its way out: not revoked until the vendor says so.
    case 'sweeping':
      return 'revoking';
    default:
      return s.value as CredentialStatus;
  }
}
