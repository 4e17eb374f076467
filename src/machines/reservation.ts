/**
 * A reservation, as the platform's events describe it: pending → confirmed → ended (checked out or
 * cancelled). It orders those events by their place in the platform's stream (`order`: the stream's
 * identity and sequence), not by when they arrive — several runtime processes forward them concurrently —
 * and it owns the list of the reservation's credentials: the ones it derives on confirmation and the ones a
 * caller created through REST with its `reservationId` (linked). New dates and the end reach all of them.
 *
 * - A window is applied only if its event is later in the stream than the window it has; each one applied
 *   is numbered (`windowSeq`), and the number travels with the update, so a credential recognizes a late
 *   update as stale.
 * - An end is final: a confirmation or new dates after it (overtaken, or redelivered) change nothing,
 *   and a credential linked after it is revoked at once.
 * - Every platform event is recorded (`seen`, the latest 64 ids), so each one applied is a commit the
 *   forwarder can wait for before it acknowledges the platform's message.
 *
 * Pure: what it tells its credentials are `sendMessage` intents, journaled with the transition.
 */
import { and, assign, enqueueActions, type SnapshotFrom, setup } from 'xstate';
import type { IssueCredentialEvent } from './credential.ts';
import { credentialMessage, type GrantTarget, type KeyKind, type MessageIntent } from './intents.ts';
import { ignore } from './totality.ts';

/** A platform event's place in its stream: the stream's identity (creation time), then its sequence. */
export interface StreamOrder {
  epoch: string;
  seq: number;
}

export const isLater = (a: StreamOrder, b: StreamOrder | null) =>
  b === null || a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq);

export interface ReservationCredential {
  id: string;
  kind: KeyKind;
  origin: 'reservation' | 'request';
}

export interface ReservationContext {
  id: string;
  tenantId: string;
  propertyId: string;
  checkIn: string | null;
  checkOut: string | null;
  /** Where in the platform's stream the window comes from. */
  windowOrder: StreamOrder | null;
  /** Windows applied, numbered: the number each credential update carries. */
  windowSeq: number;
  endReason: 'checked_out' | 'cancelled' | null;
  credentials: ReservationCredential[];
  /**
   * The rooms as the platform last changed them (`rooms_changed`), where in its stream, and each key kind's
   * locks for them (planned by the forwarder). Absent in older snapshots and before any change.
   */
  roomsChange?: { rooms: string[]; order: StreamOrder; plans: RoomPlans } | null;
  /** Where the confirmation is in the stream: a room change before it is older than its rooms. */
  confirmedOrder?: StreamOrder | null;
  /** The latest platform event ids applied. */
  seen: string[];
  updatedAt: string;
}

interface PlatformFields {
  at: string;
  eventId: string;
  order: StreamOrder;
}

/** Each key kind's locks for a set of rooms (as `planTargets` gives them). */
export type RoomPlans = Partial<
  Record<KeyKind, { targets: GrantTarget[]; unresolved: { roomId: string; code: string }[] }>
>;

export type ReservationEvent =
  | (PlatformFields & {
      type: 'reservation.confirmed';
      propertyId: string;
      checkIn: string;
      checkOut: string;
      /** One prepared issue per key kind (rooms resolved, PINs sealed), for the credential of that id. */
      issues: { credentialId: string; event: IssueCredentialEvent }[];
    })
  | (PlatformFields & { type: 'reservation.datesChanged'; checkIn: string; checkOut: string })
  | (PlatformFields & { type: 'reservation.ended'; reason: 'checked_out' | 'cancelled' })
  /** The stay moves to other rooms: each credential issues on the new rooms before it revokes the old. */
  | (PlatformFields & { type: 'reservation.roomsChanged'; rooms: string[]; plans: RoomPlans })
  /** A caller's credential for this reservation (REST with a `reservationId`). */
  | { type: 'reservation.credentialLinked'; at: string; credentialId: string; kind: KeyKind };

export const reservationEventTypes = [
  'reservation.confirmed',
  'reservation.datesChanged',
  'reservation.ended',
  'reservation.roomsChanged',
  'reservation.credentialLinked',
] as const satisfies readonly ReservationEvent['type'][];

const SEEN = 64;

type ReservationIntent = { type: 'sendMessage'; params: MessageIntent };
interface ReservationEnqueue {
  (action: ReservationIntent): void;
  assign(patch: Partial<ReservationContext>): void;
}
interface EnqueueArgs {
  context: ReservationContext;
  event: ReservationEvent;
  enqueue: ReservationEnqueue;
}

/** The latest platform event ids applied, with this one's (an actor fed by the platform applies each once). */
export const withSeen = (seen: string[], e: object): string[] =>
  'eventId' in e && typeof e.eventId === 'string' ? [...seen, e.eventId].slice(-SEEN) : seen;
const seenWith = (c: ReservationContext, e: ReservationEvent) => withSeen(c.seen, e);

const message = (c: ReservationContext, key: string, credentialId: string, event: MessageIntent['event']) =>
  credentialMessage(`reservation:${c.id}`, key, credentialId, event);

const revokeAll = (
  c: ReservationContext,
  e: ReservationEvent,
  list: ReservationCredential[],
  reason: string,
) => list.map((x) => message(c, `end`, x.id, { type: 'credential.revoke', at: e.at, reason }));

/** Confirmed: each prepared credential is issued with the latest window known (new dates may have come first). */
function confirm({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'reservation.confirmed') return;
  const own = isLater(event.order, context.windowOrder);
  const window = own
    ? { checkIn: event.checkIn, checkOut: event.checkOut, windowOrder: event.order }
    : { checkIn: context.checkIn, checkOut: context.checkOut, windowOrder: context.windowOrder };
  const windowSeq = context.windowSeq + 1;
  const derived = event.issues.map((i) => ({
    id: i.credentialId,
    kind: i.event.kind,
    origin: 'reservation' as const,
  }));
  const known = new Set(context.credentials.map((x) => x.id));
  enqueue.assign({
    ...window,
    windowSeq,
    confirmedOrder: event.order,
    propertyId: event.propertyId,
    credentials: [...context.credentials, ...derived.filter((d) => !known.has(d.id))],
    seen: seenWith(context, event),
    updatedAt: event.at,
  });
  // Credentials a caller linked before the confirmation follow the confirmed stay too.
  for (const x of context.credentials.filter((c) => c.origin === 'request'))
    enqueue(
      message(context, `dates@${windowSeq}`, x.id, {
        type: 'credential.update',
        at: event.at,
        validFrom: window.checkIn ?? event.checkIn,
        validUntil: window.checkOut ?? event.checkOut,
        seq: windowSeq,
      }),
    );
  for (const i of event.issues)
    enqueue(
      message(context, 'issue', i.credentialId, {
        ...i.event,
        at: event.at,
        validFrom: window.checkIn ?? event.checkIn,
        validUntil: window.checkOut ?? event.checkOut,
        windowSeq,
      }),
    );
  // Rooms changed later in the stream than this confirmation (it arrived first): the credentials follow them.
  const rc = context.roomsChange;
  if (rc && isLater(rc.order, event.order)) {
    enqueue.assign({ windowSeq: windowSeq + 1 });
    const linked = context.credentials.filter((c) => c.origin === 'request');
    for (const m of sendRooms(context, [...linked, ...derived], rc, windowSeq + 1, event.at)) enqueue(m);
  }
}

/**
 * The rooms to every credential, numbered with the windows: the locks its kind has there, or, where its kind has
 * no lock in the new rooms, a revoke (the guest no longer stays where its locks are).
 */
function sendRooms(
  c: ReservationContext,
  list: ReservationCredential[],
  change: { rooms: string[]; plans: RoomPlans },
  seq: number,
  at: string,
): ReservationIntent[] {
  return list.map((x) => {
    const targets = change.plans[x.kind]?.targets ?? [];
    return targets.length > 0
      ? message(c, `rooms@${seq}`, x.id, {
          type: 'credential.changeRooms',
          at,
          rooms: change.rooms,
          targets,
          seq,
        })
      : message(c, `rooms@${seq}`, x.id, { type: 'credential.revoke', at, reason: 'no_lock_in_new_rooms' });
  });
}

/** New rooms, later in the stream than those it has: every credential moves, numbered. */
function changeRooms({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'reservation.roomsChanged') return;
  const windowSeq = context.windowSeq + 1;
  enqueue.assign({
    roomsChange: { rooms: event.rooms, order: event.order, plans: event.plans },
    windowSeq,
    seen: seenWith(context, event),
    updatedAt: event.at,
  });
  for (const m of sendRooms(context, context.credentials, event, windowSeq, event.at)) enqueue(m);
}

/** New dates, later in the stream than the window it has: every credential gets them, numbered. */
function changeDates({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'reservation.datesChanged') return;
  const windowSeq = context.windowSeq + 1;
  enqueue.assign({
    checkIn: event.checkIn,
    checkOut: event.checkOut,
    windowOrder: event.order,
    windowSeq,
    seen: seenWith(context, event),
    updatedAt: event.at,
  });
  for (const x of context.credentials)
    enqueue(
      message(context, `dates@${windowSeq}`, x.id, {
        type: 'credential.update',
        at: event.at,
        validFrom: event.checkIn,
        validUntil: event.checkOut,
        seq: windowSeq,
      }),
    );
}

function end({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'reservation.ended') return;
  enqueue.assign({ endReason: event.reason, seen: seenWith(context, event), updatedAt: event.at });
  for (const m of revokeAll(context, event, context.credentials, event.reason)) enqueue(m);
}

/** A record of the event and nothing more (a stale or overtaken one), so the forwarder sees it applied. */
const recordOnly = { guard: 'unseen', actions: 'record' } as const;
const duplicate = ignore('already applied: a redelivered platform event');

export const reservationMachine = setup({
  types: {
    context: {} as ReservationContext,
    events: {} as ReservationEvent,
    input: {} as { id: string; tenantId: string },
  },
  actions: {
    sendMessage: (_: unknown, _params: MessageIntent) => {},
    confirm: enqueueActions(confirm),
    changeDates: enqueueActions(changeDates),
    changeRooms: enqueueActions(changeRooms),
    storeRooms: assign(({ context, event }) =>
      event.type === 'reservation.roomsChanged'
        ? {
            roomsChange: { rooms: event.rooms, order: event.order, plans: event.plans },
            seen: seenWith(context, event),
            updatedAt: event.at,
          }
        : {},
    ),
    end: enqueueActions(end),
    record: assign(({ context, event }) => ({ seen: seenWith(context, event), updatedAt: event.at })),
    storeWindow: assign(({ context, event }) =>
      event.type === 'reservation.datesChanged'
        ? {
            checkIn: event.checkIn,
            checkOut: event.checkOut,
            windowOrder: event.order,
            seen: seenWith(context, event),
            updatedAt: event.at,
          }
        : {},
    ),
    /**
     * A caller's credential joins the list. A credential for a reservation follows its stay: if the platform
     * has given the reservation dates, the credential gets them now (numbered like every window sent), so a
     * change the link arrived after is not lost on it.
     */
    link: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'reservation.credentialLinked') return;
      enqueue.assign({
        credentials: [
          ...context.credentials,
          { id: event.credentialId, kind: event.kind, origin: 'request' as const },
        ],
        updatedAt: event.at,
      });
      if (context.windowOrder && context.checkIn && context.checkOut && context.endReason === null)
        enqueue(
          message(context, `dates@${context.windowSeq}`, event.credentialId, {
            type: 'credential.update',
            at: event.at,
            validFrom: context.checkIn,
            validUntil: context.checkOut,
            seq: context.windowSeq,
          }),
        );
      // The stay's rooms as they were changed (once confirmed: before it, the confirmation sends them).
      const rc = context.roomsChange;
      if (rc && context.confirmedOrder && context.endReason === null)
        for (const m of sendRooms(
          context,
          [{ id: event.credentialId, kind: event.kind, origin: 'request' }],
          rc,
          context.windowSeq,
          event.at,
        ))
          enqueue(m);
    }),
    revokeLinked: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'reservation.credentialLinked') return;
      for (const m of revokeAll(
        context,
        event,
        [{ id: event.credentialId, kind: event.kind, origin: 'request' }],
        context.endReason ?? 'ended',
      ))
        enqueue(m);
    }),
  },
  guards: {
    unseen: ({ context, event }) => !('eventId' in event) || !context.seen.includes(event.eventId),
    laterRooms: ({ context, event }) =>
      event.type === 'reservation.roomsChanged' &&
      isLater(event.order, context.roomsChange?.order ?? null) &&
      isLater(event.order, context.confirmedOrder ?? null),
    laterWindow: ({ context, event }) =>
      event.type === 'reservation.datesChanged' && isLater(event.order, context.windowOrder),
    newCredential: ({ context, event }) =>
      event.type === 'reservation.credentialLinked' &&
      !context.credentials.some((x) => x.id === event.credentialId),
  },
}).createMachine({
  id: 'reservation',
  context: ({ input }) => ({
    id: input.id,
    tenantId: input.tenantId,
    propertyId: '',
    checkIn: null,
    checkOut: null,
    windowOrder: null,
    windowSeq: 0,
    endReason: null,
    credentials: [],
    seen: [],
    updatedAt: '',
  }),
  initial: 'pending',
  states: {
    /**
     * Nothing confirmed yet: new dates are kept for the confirmation (and reach any credential a caller
     * linked already); an end is final.
     */
    pending: {
      on: {
        'reservation.confirmed': [{ guard: 'unseen', target: 'confirmed', actions: 'confirm' }, duplicate],
        'reservation.datesChanged': [
          { guard: and(['unseen', 'laterWindow']), actions: 'changeDates' },
          recordOnly,
          duplicate,
        ],
        'reservation.ended': [{ guard: 'unseen', target: 'ended', actions: 'end' }, duplicate],
        // Kept for the confirmation, which sends the credentials to these rooms if the change is later.
        'reservation.roomsChanged': [
          { guard: and(['unseen', 'laterRooms']), actions: 'storeRooms' },
          recordOnly,
          duplicate,
        ],
        'reservation.credentialLinked': [
          { guard: 'newCredential', actions: 'link' },
          ignore('already linked'),
        ],
      },
    },
    confirmed: {
      on: {
        'reservation.confirmed': [recordOnly, duplicate],
        'reservation.datesChanged': [
          { guard: and(['unseen', 'laterWindow']), actions: 'changeDates' },
          recordOnly,
          duplicate,
        ],
        'reservation.ended': [{ guard: 'unseen', target: 'ended', actions: 'end' }, duplicate],
        'reservation.roomsChanged': [
          { guard: and(['unseen', 'laterRooms']), actions: 'changeRooms' },
          recordOnly,
          duplicate,
        ],
        'reservation.credentialLinked': [
          { guard: 'newCredential', actions: 'link' },
          ignore('already linked'),
        ],
      },
    },
    /** Checked out or cancelled: final; whatever is linked later is revoked at once. */
    ended: {
      on: {
        'reservation.confirmed': [recordOnly, duplicate],
        'reservation.datesChanged': [recordOnly, duplicate],
        'reservation.ended': [recordOnly, duplicate],
        'reservation.roomsChanged': [recordOnly, duplicate],
        'reservation.credentialLinked': [
          { guard: 'newCredential', actions: ['link', 'revokeLinked'] },
          ignore('already linked, and revoked when the reservation ended'),
        ],
      },
    },
  },
});

export type ReservationSnapshot = SnapshotFrom<typeof reservationMachine>;
