/**
 * A member of staff (one per tenant and platform user id): the master keys of their shifts, and the end of
 * everything they hold when their account is deactivated.
 *
 * - A shift's start issues its master keys (prepared by the forwarder: the shift's areas resolved to the
 *   property's locks, PINs sealed), valid from its start to its end; the same shift started again with other
 *   times (a changed shift) moves them; its end revokes them. An end that overtakes its start is kept, so
 *   the late start issues nothing.
 * - Deactivation is final: every credential the actor knows (its master keys, and those a caller made for
 *   this user through REST, which link here) is revoked at once and ahead of ordinary work (`priority`), and
 *   anything started or linked after it is refused or revoked.
 * - Platform events are applied once (`seen`, the latest 64 ids) and ordered by their place in the stream
 *   where order matters (a shift's times).
 *
 * Pure: what it tells its credentials are `sendMessage` intents, journaled with the transition.
 */
import { and, assign, enqueueActions, type SnapshotFrom, setup } from 'xstate';
import type { IssueCredentialEvent } from './credential.ts';
import { credentialMessage, type KeyKind, type MessageIntent } from './intents.ts';
import { isLater, type StreamOrder, withSeen } from './reservation.ts';
import { ignore } from './totality.ts';

export interface StaffCredential {
  id: string;
  kind: KeyKind;
  /** A shift's master key, or a credential a caller made for this user (REST, holder staff). */
  origin: 'shift' | 'request';
  shiftId: string | null;
}

export interface StaffShift {
  shiftId: string;
  propertyId: string;
  startsAt: string;
  endsAt: string;
  /** Where in the platform's stream its times come from. */
  order: StreamOrder;
  ended: boolean;
}

export interface StaffContext {
  id: string;
  tenantId: string;
  /** Every property a shift or a linked credential was on (an actor's first one is its own). */
  propertyId: string;
  shifts: StaffShift[];
  credentials: StaffCredential[];
  deactivatedAt: string | null;
  seen: string[];
  updatedAt: string;
}

interface PlatformFields {
  at: string;
  eventId: string;
  order: StreamOrder;
}

export type StaffEvent =
  | (PlatformFields & {
      type: 'staff.shiftStarted';
      shiftId: string;
      propertyId: string;
      startsAt: string;
      endsAt: string;
      /** One prepared master key per key kind (areas resolved to locks, PINs sealed). */
      issues: { credentialId: string; event: IssueCredentialEvent }[];
    })
  | (PlatformFields & { type: 'staff.shiftEnded'; shiftId: string; propertyId: string })
  /**
   * `credentialIds`: the user's live credentials the record holds (read by the forwarder), so one made before
   * credentials linked themselves here is revoked too.
   */
  | (PlatformFields & { type: 'staff.deactivated'; credentialIds?: string[] })
  /** A caller's credential for this user (REST, holder `{kind: staff, ref: user id}`). */
  | { type: 'staff.credentialLinked'; at: string; credentialId: string; kind: KeyKind; propertyId: string };

export const staffEventTypes = [
  'staff.shiftStarted',
  'staff.shiftEnded',
  'staff.deactivated',
  'staff.credentialLinked',
] as const satisfies readonly StaffEvent['type'][];

/** Ended shifts kept (to recognize a start that arrives after its end); older ones are forgotten. */
const ENDED_KEPT = 32;

type StaffIntent = { type: 'sendMessage'; params: MessageIntent };
interface StaffEnqueue {
  (action: StaffIntent): void;
  assign(patch: Partial<StaffContext>): void;
}
interface EnqueueArgs {
  context: StaffContext;
  event: StaffEvent;
  enqueue: StaffEnqueue;
}

const seenWith = (c: StaffContext, e: StaffEvent) => withSeen(c.seen, e);

const message = (c: StaffContext, key: string, credentialId: string, event: MessageIntent['event']) =>
  credentialMessage(`staff:${c.id}`, key, credentialId, event);

const shiftOf = (c: StaffContext, shiftId: string) => c.shifts.find((s) => s.shiftId === shiftId);

/** Keeps open shifts and the latest ended ones. */
function pruned(shifts: StaffShift[]): StaffShift[] {
  const ended = shifts.filter((s) => s.ended);
  const drop = new Set(ended.slice(0, Math.max(0, ended.length - ENDED_KEPT)).map((s) => s.shiftId));
  return shifts.filter((s) => !drop.has(s.shiftId));
}

/** A new shift: recorded, and each of its master keys issued for the shift's times. */
function startShift({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'staff.shiftStarted') return;
  const keys = event.issues.map((i) => ({
    id: i.credentialId,
    kind: i.event.kind,
    origin: 'shift' as const,
    shiftId: event.shiftId,
  }));
  const known = new Set(context.credentials.map((x) => x.id));
  enqueue.assign({
    propertyId: context.propertyId || event.propertyId,
    shifts: [
      ...context.shifts,
      {
        shiftId: event.shiftId,
        propertyId: event.propertyId,
        startsAt: event.startsAt,
        endsAt: event.endsAt,
        order: event.order,
        ended: false,
      },
    ],
    credentials: [...context.credentials, ...keys.filter((k) => !known.has(k.id))],
    seen: seenWith(context, event),
    updatedAt: event.at,
  });
  for (const i of event.issues)
    enqueue(
      message(context, 'issue', i.credentialId, {
        ...i.event,
        at: event.at,
        validFrom: event.startsAt,
        validUntil: event.endsAt,
      }),
    );
}

/** A shift started again with other times (later in the stream): its master keys move. */
function changeShift({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'staff.shiftStarted') return;
  enqueue.assign({
    shifts: context.shifts.map((s) =>
      s.shiftId === event.shiftId
        ? { ...s, startsAt: event.startsAt, endsAt: event.endsAt, order: event.order }
        : s,
    ),
    seen: seenWith(context, event),
    updatedAt: event.at,
  });
  for (const x of context.credentials.filter((k) => k.shiftId === event.shiftId))
    enqueue(
      message(context, `times@${event.order.epoch}:${event.order.seq}`, x.id, {
        type: 'credential.update',
        at: event.at,
        validFrom: event.startsAt,
        validUntil: event.endsAt,
      }),
    );
}

/** A shift's end: its master keys revoked. An end before its start is kept, as an ended shift. */
function endShift({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'staff.shiftEnded') return;
  const known = shiftOf(context, event.shiftId);
  const shifts = known
    ? context.shifts.map((s) => (s.shiftId === event.shiftId ? { ...s, ended: true } : s))
    : [
        ...context.shifts,
        {
          shiftId: event.shiftId,
          propertyId: event.propertyId,
          startsAt: event.at,
          endsAt: event.at,
          order: event.order,
          ended: true,
        },
      ];
  enqueue.assign({ shifts: pruned(shifts), seen: seenWith(context, event), updatedAt: event.at });
  for (const x of context.credentials.filter((k) => k.shiftId === event.shiftId))
    enqueue(
      message(context, 'end', x.id, { type: 'credential.revoke', at: event.at, reason: 'shift_ended' }),
    );
}

/** Deactivated: every credential revoked now, ahead of ordinary work. */
function deactivate({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'staff.deactivated') return;
  enqueue.assign({
    deactivatedAt: event.at,
    shifts: pruned(context.shifts.map((s) => ({ ...s, ended: true }))),
    seen: seenWith(context, event),
    updatedAt: event.at,
  });
  const ids = new Set([...context.credentials.map((x) => x.id), ...(event.credentialIds ?? [])]);
  for (const id of ids)
    enqueue(
      message(context, 'deactivated', id, {
        type: 'credential.revoke',
        at: event.at,
        reason: 'user_deactivated',
        priority: true,
      }),
    );
}

const recordOnly = { guard: 'unseen', actions: 'record' } as const;
const duplicate = ignore('already applied: a redelivered platform event');

export const staffMachine = setup({
  types: {
    context: {} as StaffContext,
    events: {} as StaffEvent,
    input: {} as { id: string; tenantId: string },
  },
  actions: {
    sendMessage: (_: unknown, _params: MessageIntent) => {},
    startShift: enqueueActions(startShift),
    changeShift: enqueueActions(changeShift),
    endShift: enqueueActions(endShift),
    deactivate: enqueueActions(deactivate),
    record: assign(({ context, event }) => ({ seen: seenWith(context, event), updatedAt: event.at })),
    link: assign(({ context, event }) =>
      event.type === 'staff.credentialLinked'
        ? {
            propertyId: context.propertyId || event.propertyId,
            credentials: [
              ...context.credentials,
              { id: event.credentialId, kind: event.kind, origin: 'request' as const, shiftId: null },
            ],
            updatedAt: event.at,
          }
        : {},
    ),
    revokeLinked: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'staff.credentialLinked') return;
      enqueue(
        message(context, 'deactivated', event.credentialId, {
          type: 'credential.revoke',
          at: event.at,
          reason: 'user_deactivated',
          priority: true,
        }),
      );
    }),
  },
  guards: {
    unseen: ({ context, event }) => !('eventId' in event) || !context.seen.includes(event.eventId),
    newShift: ({ context, event }) =>
      event.type === 'staff.shiftStarted' && shiftOf(context, event.shiftId) === undefined,
    /** A known shift, still open, given times later in the stream than the ones it has. */
    changedShift: ({ context, event }) => {
      if (event.type !== 'staff.shiftStarted') return false;
      const s = shiftOf(context, event.shiftId);
      return !!s && !s.ended && isLater(event.order, s.order);
    },
    openShift: ({ context, event }) =>
      event.type === 'staff.shiftEnded' && shiftOf(context, event.shiftId)?.ended !== true,
    newCredential: ({ context, event }) =>
      event.type === 'staff.credentialLinked' &&
      !context.credentials.some((x) => x.id === event.credentialId),
  },
}).createMachine({
  id: 'staff',
  context: ({ input }) => ({
    id: input.id,
    tenantId: input.tenantId,
    propertyId: '',
    shifts: [],
    credentials: [],
    deactivatedAt: null,
    seen: [],
    updatedAt: '',
  }),
  initial: 'active',
  states: {
    active: {
      on: {
        'staff.shiftStarted': [
          { guard: and(['unseen', 'newShift']), actions: 'startShift' },
          { guard: and(['unseen', 'changedShift']), actions: 'changeShift' },
          recordOnly,
          duplicate,
        ],
        'staff.shiftEnded': [
          { guard: and(['unseen', 'openShift']), actions: 'endShift' },
          recordOnly,
          duplicate,
        ],
        'staff.deactivated': [{ guard: 'unseen', target: 'deactivated', actions: 'deactivate' }, duplicate],
        'staff.credentialLinked': [{ guard: 'newCredential', actions: 'link' }, ignore('already linked')],
      },
    },
    /** Final: nothing new is issued, and whatever is linked later is revoked at once. */
    deactivated: {
      on: {
        'staff.shiftStarted': [recordOnly, duplicate],
        'staff.shiftEnded': [recordOnly, duplicate],
        'staff.deactivated': [recordOnly, duplicate],
        'staff.credentialLinked': [
          { guard: 'newCredential', actions: ['link', 'revokeLinked'] },
          ignore('already linked, and revoked on deactivation'),
        ],
      },
    },
  },
});

export type StaffSnapshot = SnapshotFrom<typeof staffMachine>;
