/**
 * A property's switch from one lock vendor to another (the migration plan's §3): planned → dual vendor →
 * cutover (room by room) → draining → completed, or paused / aborted before it completes.
 *
 * - Dual vendor: the new vendor's adapter is made active (provisional for a one-room pilot) and the key-kind
 *   policy lists it before the old one.
 * - Cutover of a room: the new lock is registered in the room and the old one decommissioned — physical
 *   truth wins for every new issue — and every live credential of the room is told to move (it issues on
 *   the new lock before it revokes on the old one: `credential.moveRoom`).
 * - Draining: no new issuance on the old vendor (its adapter is disabled for issuance; revokes still run);
 *   it can complete once no live credential holds a grant on the old vendor.
 * - Decommissioning: the old vendor's secrets are retired by the gateway: revoked at the vendor where it
 *   allows, then what will be destroyed is recorded here (`vendorSwitch.retiring`, the first one holds),
 *   then they are destroyed and its webhook endpoint removed, and `vendorSwitch.retired` completes the switch;
 *   from here an abort is refused (the old adapter has nothing left to run with).
 * - Completed: the old vendor's adapter stays disabled. Aborted (before decommission): the policy as it was
 *   before the switch comes back, so the old vendor is preferred again; rooms already cut over keep their
 *   new locks (they are physically there).
 *
 * What it cannot see itself (the live credentials of a room, of the old vendor) arrives in its events, read
 * by the gateway at that moment; the switch decides from them. Pure: what it tells the property, the locks
 * and the credentials are `sendMessage` intents, its domain events `publishEvent` intents.
 */
import { and, assign, enqueueActions, type SnapshotFrom, setup } from 'xstate';
import type { DomainEventIntent, GrantTarget, KeyKind, MessageIntent } from './intents.ts';
import type { AdapterStatus, KeyKindPolicy } from './property.ts';
import { ignore } from './totality.ts';

export interface SwitchRoom {
  roomId: string;
  /** The old vendor's lock in the room when the switch was planned. */
  oldDeviceId: string;
  /** The new vendor's lock, once the room is cut over: its actor id, and its reference at the new vendor. */
  newDeviceId: string | null;
  newDeviceRef?: string | null;
  cutoverAt: string | null;
}

/** The old vendor's secrets at decommission. */
export interface SecretsRetirement {
  /** Config fields whose secret the vendor revoked on our asking (a Salto KS refresh token). */
  revokedAtVendor: string[];
  /** The secrets destroyed here (every version). */
  destroyed: string[];
  /** The vendor's own credentials only it can rotate (API keys, passwords): the operator's task. */
  rotateAtVendor: string[];
  webhookRemoved: boolean;
}

export type SwitchPhase = 'planned' | 'dualVendor' | 'cutover' | 'draining';

export interface VendorSwitchContext {
  id: string;
  tenantId: string;
  propertyId: string;
  from: string;
  to: string;
  kinds: KeyKind[];
  /** A one-room pilot: the new adapter is provisional until the switch goes past it. */
  pilotRoom: string | null;
  rooms: SwitchRoom[];
  /** The policy before the switch, restored on abort. */
  previousPolicy: KeyKindPolicy;
  /** Both adapters' statuses before the switch, restored on abort (absent in older snapshots). */
  previousStatuses?: Record<string, AdapterStatus>;
  /** Messages sent to the property so far: each carries its number, so a late one changes nothing. */
  propertySeq?: number;
  /** Credentials told to move to a new lock so far. */
  moved: number;
  /** The phase a pause left (resume goes back to it). */
  pausedIn: SwitchPhase | null;
  /** What the decommission does with the old vendor's secrets, recorded before it is done (absent before). */
  secrets?: SecretsRetirement;
  createdAt: string;
  updatedAt: string;
}

export type VendorSwitchEvent =
  | {
      type: 'vendorSwitch.plan';
      at: string;
      propertyId: string;
      from: string;
      to: string;
      kinds: KeyKind[];
      pilotRoom: string | null;
      rooms: { roomId: string; oldDeviceId: string }[];
      previousPolicy: KeyKindPolicy;
      previousStatuses?: Record<string, AdapterStatus>;
    }
  /** The next phase; `legacyLive`: live credentials with a grant on the old vendor (read by the gateway). */
  | { type: 'vendorSwitch.advance'; at: string; legacyLive: number }
  | {
      type: 'vendorSwitch.roomCutover';
      at: string;
      roomId: string;
      /** The new lock: its actor id and where it lives at the new vendor. */
      newDevice: { id: string; vendorDeviceRef: string; areas: string[] };
      /** The room's live credentials (read by the gateway): each is told to move. */
      credentialIds: string[];
    }
  | { type: 'vendorSwitch.pause'; at: string }
  | { type: 'vendorSwitch.resume'; at: string }
  /** What the decommission will do with the old vendor's secrets, sent before they are destroyed. */
  | ({ type: 'vendorSwitch.retiring'; at: string } & SecretsRetirement)
  /** The old vendor's secrets are destroyed (by the gateway): the switch completes. */
  | { type: 'vendorSwitch.retired'; at: string }
  | { type: 'vendorSwitch.abort'; at: string; reason: string };

export const vendorSwitchEventTypes = [
  'vendorSwitch.plan',
  'vendorSwitch.advance',
  'vendorSwitch.roomCutover',
  'vendorSwitch.pause',
  'vendorSwitch.resume',
  'vendorSwitch.retiring',
  'vendorSwitch.retired',
  'vendorSwitch.abort',
] as const satisfies readonly VendorSwitchEvent['type'][];

type SwitchIntent =
  { type: 'sendMessage'; params: MessageIntent } | { type: 'publishEvent'; params: DomainEventIntent };
interface SwitchEnqueue {
  (action: SwitchIntent): void;
  assign(patch: Partial<VendorSwitchContext>): void;
}
interface EnqueueArgs {
  context: VendorSwitchContext;
  event: VendorSwitchEvent;
  enqueue: SwitchEnqueue;
}

function message(
  c: VendorSwitchContext,
  key: string,
  to: MessageIntent['to'],
  event: MessageIntent['event'],
): SwitchIntent {
  return {
    type: 'sendMessage',
    params: { intent: 'sendMessage', operationId: `switch:${c.id}:${key}`, to, event },
  };
}

/** The policy with `first` ahead of every other vendor, for every kind the switch moves. */
function preferring(c: VendorSwitchContext, first: string, second: string): KeyKindPolicy {
  const policy: KeyKindPolicy = { ...c.previousPolicy };
  for (const kind of c.kinds) {
    const rest = (c.previousPolicy[kind]?.preferredOrder ?? []).filter((v) => v !== first && v !== second);
    policy[kind] = { preferredOrder: [first, second, ...rest] };
  }
  return policy;
}

/**
 * Messages to the property, numbered from the switch's count (`propertySeq`): they travel as separate
 * effects and may cross, and the property ignores one older than the last it applied. The caller stores
 * the new count.
 */
function toProperty(c: VendorSwitchContext, events: { key: string; event: MessageIntent['event'] }[]) {
  const first = c.propertySeq ?? 0;
  return {
    seq: first + events.length,
    intents: events.map(({ key, event }, i) =>
      message(
        c,
        key,
        { type: 'property', id: c.propertyId },
        {
          ...event,
          switchOrder: { switchId: c.id, seq: first + i + 1 },
        },
      ),
    ),
  };
}
const adapterStatusEvent = (at: string, vendor: string, status: string) => ({
  type: 'property.setAdapterStatus',
  at,
  vendor,
  status,
});

const published = (verb: string, data: Record<string, unknown> = {}): SwitchIntent => ({
  type: 'publishEvent',
  params: { verb, data },
});

/** Dual vendor: the new adapter active (provisional for a pilot), the policy preferring it. */
function enableBoth({ context, event, enqueue }: EnqueueArgs): void {
  const m = toProperty(context, [
    {
      key: 'enable',
      event: adapterStatusEvent(event.at, context.to, context.pilotRoom ? 'provisional' : 'active'),
    },
    {
      key: 'prefer',
      event: {
        type: 'property.setKeyKindPolicy',
        at: event.at,
        policy: preferring(context, context.to, context.from),
      },
    },
  ]);
  enqueue.assign({ propertySeq: m.seq, updatedAt: event.at });
  for (const i of m.intents) enqueue(i);
  enqueue(published('started', { from: context.from, to: context.to, rooms: context.rooms.length }));
}

/** Cutover under way: a pilot's new adapter becomes active for every room. */
function openCutover({ context, event, enqueue }: EnqueueArgs): void {
  enqueue.assign({ updatedAt: event.at });
  if (!context.pilotRoom) return;
  const m = toProperty(context, [
    { key: 'activate', event: adapterStatusEvent(event.at, context.to, 'active') },
  ]);
  enqueue.assign({ propertySeq: m.seq });
  for (const i of m.intents) enqueue(i);
}

function cutRoom({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'vendorSwitch.roomCutover') return;
  const room = context.rooms.find((r) => r.roomId === event.roomId);
  if (!room) return;
  enqueue.assign({
    rooms: context.rooms.map((r) =>
      r.roomId === event.roomId
        ? {
            ...r,
            newDeviceId: event.newDevice.id,
            newDeviceRef: event.newDevice.vendorDeviceRef,
            cutoverAt: event.at,
          }
        : r,
    ),
    moved: context.moved + event.credentialIds.length,
    updatedAt: event.at,
  });
  const key = `room:${event.roomId}`;
  enqueue(
    message(
      context,
      `${key}:register`,
      { type: 'lockDevice', id: event.newDevice.id },
      {
        type: 'lockDevice.register',
        at: event.at,
        propertyId: context.propertyId,
        roomId: event.roomId,
        vendor: context.to,
        vendorDeviceRef: event.newDevice.vendorDeviceRef,
        areas: event.newDevice.areas,
      },
    ),
  );
  enqueue(
    message(
      context,
      `${key}:decommission`,
      { type: 'lockDevice', id: room.oldDeviceId },
      {
        type: 'lockDevice.decommission',
        at: event.at,
        reason: `vendor switch ${context.id}: replaced by ${context.to}`,
      },
    ),
  );
  const target: GrantTarget = {
    roomId: event.roomId,
    lockDeviceId: event.newDevice.id,
    vendor: context.to,
    vendorDeviceRef: event.newDevice.vendorDeviceRef,
  };
  for (const id of event.credentialIds)
    enqueue(
      message(
        context,
        `${key}:move:${id}`,
        { type: 'credential', id },
        {
          type: 'credential.moveRoom',
          at: event.at,
          roomId: event.roomId,
          from: room.oldDeviceId,
          target,
        },
      ),
    );
  enqueue(
    published('room_cutover', {
      roomId: event.roomId,
      lockDeviceId: event.newDevice.id,
      credentialsMoved: event.credentialIds.length,
    }),
  );
}

function drain({ context, event, enqueue }: EnqueueArgs): void {
  // No new issuance on the old vendor; revokes and changes of what it holds still run.
  const m = toProperty(context, [
    { key: 'drain', event: adapterStatusEvent(event.at, context.from, 'disabled') },
  ]);
  enqueue.assign({ propertySeq: m.seq, updatedAt: event.at });
  for (const i of m.intents) enqueue(i);
  enqueue(published('draining', { from: context.from }));
}

/** The property is free for another switch. */
const release = (c: VendorSwitchContext, at: string): SwitchIntent =>
  message(
    c,
    'release',
    { type: 'property', id: c.propertyId },
    {
      type: 'property.releaseSwitch',
      at,
      switchId: c.id,
    },
  );

function restore({ context, event, enqueue }: EnqueueArgs): void {
  if (event.type !== 'vendorSwitch.abort') return;
  const before = context.previousStatuses ?? { [context.from]: 'active' };
  const m = toProperty(context, [
    {
      key: 'restore',
      event: { type: 'property.setKeyKindPolicy', at: event.at, policy: context.previousPolicy },
    },
    ...Object.entries(before).map(([vendor, status]) => ({
      key: `restore-${vendor}`,
      event: adapterStatusEvent(event.at, vendor, status),
    })),
  ]);
  enqueue.assign({ pausedIn: null, propertySeq: m.seq, updatedAt: event.at });
  for (const i of m.intents) enqueue(i);
  enqueue(release(context, event.at));
  enqueue(published('aborted', { reason: event.reason }));
}

const notRunning = ignore('not running: a switch is planned once');
const paused = <A extends string>(action: A) =>
  ({ target: '#vendorSwitch.paused', actions: action }) as const;

export const vendorSwitchMachine = setup({
  types: {
    context: {} as VendorSwitchContext,
    events: {} as VendorSwitchEvent,
    input: {} as { id: string; tenantId: string },
  },
  actions: {
    sendMessage: (_: unknown, _params: MessageIntent) => {},
    publishEvent: (_: unknown, _params: DomainEventIntent) => {},
    plan: assign(({ event }) =>
      event.type === 'vendorSwitch.plan'
        ? {
            propertyId: event.propertyId,
            from: event.from,
            to: event.to,
            kinds: event.kinds,
            pilotRoom: event.pilotRoom,
            rooms: event.rooms.map((r) => ({ ...r, newDeviceId: null, cutoverAt: null })),
            previousPolicy: event.previousPolicy,
            ...(event.previousStatuses ? { previousStatuses: event.previousStatuses } : {}),
            createdAt: event.at,
            updatedAt: event.at,
          }
        : {},
    ),
    enableBoth: enqueueActions(enableBoth),
    openCutover: enqueueActions(openCutover),
    cutRoom: enqueueActions(cutRoom),
    drain: enqueueActions(drain),
    decommission: assign(({ event }) => ({ updatedAt: event.at })),
    recordRetirement: assign(({ event }) => {
      if (event.type !== 'vendorSwitch.retiring') return {};
      const { type: _t, at, ...secrets } = event;
      return { secrets, updatedAt: at };
    }),
    complete: enqueueActions(({ context, event, enqueue }) => {
      const secrets = context.secrets;
      enqueue.assign({ updatedAt: event.at });
      enqueue(release(context, event.at));
      enqueue(published('completed', { from: context.from, to: context.to, moved: context.moved, secrets }));
    }),
    restore: enqueueActions(restore),
    resumed: assign({ pausedIn: null }),
    pauseInPlanned: assign({ pausedIn: 'planned' as const }),
    pauseInDualVendor: assign({ pausedIn: 'dualVendor' as const }),
    pauseInCutover: assign({ pausedIn: 'cutover' as const }),
    pauseInDraining: assign({ pausedIn: 'draining' as const }),
  },
  guards: {
    /** A room of the switch not cut over yet; during a pilot, only the pilot room. */
    roomToCut: ({ context, event }) => {
      if (event.type !== 'vendorSwitch.roomCutover') return false;
      const room = context.rooms.find((r) => r.roomId === event.roomId);
      return !!room && room.newDeviceId === null;
    },
    pilotRoomOnly: ({ context, event }) =>
      event.type === 'vendorSwitch.roomCutover' &&
      (context.pilotRoom === null || context.pilotRoom === event.roomId),
    allRoomsCut: ({ context }) => context.rooms.every((r) => r.newDeviceId !== null),
    noRetirementYet: ({ context }) => context.secrets === undefined,
    retirementRecorded: ({ context }) => context.secrets !== undefined,
    noLegacyLive: ({ event }) => event.type === 'vendorSwitch.advance' && event.legacyLive === 0,
    pausedIn: ({ context }, params: { phase: SwitchPhase }) => context.pausedIn === params.phase,
  },
}).createMachine({
  id: 'vendorSwitch',
  context: ({ input }) => ({
    id: input.id,
    tenantId: input.tenantId,
    propertyId: '',
    from: '',
    to: '',
    kinds: [],
    pilotRoom: null,
    rooms: [],
    previousPolicy: {},
    moved: 0,
    pausedIn: null,
    createdAt: '',
    updatedAt: '',
  }),
  initial: 'new',
  states: {
    new: {
      on: {
        'vendorSwitch.plan': { target: 'planned', actions: 'plan' },
        'vendorSwitch.advance': ignore('no switch planned'),
        'vendorSwitch.roomCutover': ignore('no switch planned'),
        'vendorSwitch.pause': ignore('no switch planned'),
        'vendorSwitch.resume': ignore('no switch planned'),
        'vendorSwitch.abort': ignore('no switch planned'),
        'vendorSwitch.retiring': ignore('no switch planned'),
        'vendorSwitch.retired': ignore('no switch planned'),
      },
    },
    /** Planned: rooms, their old locks and the policy as it is. Nothing has changed at the property yet. */
    planned: {
      on: {
        'vendorSwitch.plan': notRunning,
        'vendorSwitch.advance': { target: 'dualVendor', actions: 'enableBoth' },
        'vendorSwitch.roomCutover': ignore('not in cutover: the new vendor is not enabled yet'),
        'vendorSwitch.retiring': ignore('not decommissioning'),
        'vendorSwitch.retired': ignore('not decommissioning'),
        'vendorSwitch.pause': paused('pauseInPlanned'),
        'vendorSwitch.resume': ignore('not paused'),
        'vendorSwitch.abort': { target: 'aborted', actions: 'restore' },
      },
    },
    /** Both vendors enabled, the new one preferred; a pilot's room may be cut over already. */
    dualVendor: {
      on: {
        'vendorSwitch.plan': notRunning,
        'vendorSwitch.advance': { target: 'cutover', actions: 'openCutover' },
        'vendorSwitch.roomCutover': [
          { guard: and(['roomToCut', 'pilotRoomOnly']), actions: 'cutRoom' },
          ignore('before the cutover only the pilot room, once'),
        ],
        'vendorSwitch.retiring': ignore('not decommissioning'),
        'vendorSwitch.retired': ignore('not decommissioning'),
        'vendorSwitch.pause': paused('pauseInDualVendor'),
        'vendorSwitch.resume': ignore('not paused'),
        'vendorSwitch.abort': { target: 'aborted', actions: 'restore' },
      },
    },
    /** Rooms cut over one by one; advances to draining once every room has its new lock. */
    cutover: {
      on: {
        'vendorSwitch.plan': notRunning,
        'vendorSwitch.advance': [
          { guard: 'allRoomsCut', target: 'draining', actions: 'drain' },
          ignore('blocked: rooms not cut over yet'),
        ],
        'vendorSwitch.roomCutover': [
          { guard: 'roomToCut', actions: 'cutRoom' },
          ignore('not a room of the switch, or cut over already'),
        ],
        'vendorSwitch.retiring': ignore('not decommissioning'),
        'vendorSwitch.retired': ignore('not decommissioning'),
        'vendorSwitch.pause': paused('pauseInCutover'),
        'vendorSwitch.resume': ignore('not paused'),
        'vendorSwitch.abort': { target: 'aborted', actions: 'restore' },
      },
    },
    /** No new issuance on the old vendor; completes once no live credential is on it. */
    draining: {
      on: {
        'vendorSwitch.plan': notRunning,
        'vendorSwitch.advance': [
          { guard: 'noLegacyLive', target: 'decommissioning', actions: 'decommission' },
          ignore('blocked: live credentials on the old vendor'),
        ],
        'vendorSwitch.roomCutover': ignore('every room is cut over'),
        'vendorSwitch.retiring': ignore('not decommissioning'),
        'vendorSwitch.retired': ignore('not decommissioning'),
        'vendorSwitch.pause': paused('pauseInDraining'),
        'vendorSwitch.resume': ignore('not paused'),
        'vendorSwitch.abort': { target: 'aborted', actions: 'restore' },
      },
    },
    /** The old vendor's secrets are being retired; completes when the gateway says they are. Too late to abort. */
    decommissioning: {
      on: {
        'vendorSwitch.plan': notRunning,
        'vendorSwitch.advance': ignore('decommissioning: completes once the old secrets are retired'),
        'vendorSwitch.roomCutover': ignore('every room is cut over'),
        'vendorSwitch.pause': ignore('decommissioning: nothing left to pause'),
        'vendorSwitch.resume': ignore('not paused'),
        'vendorSwitch.retiring': [
          { guard: 'noRetirementYet', actions: 'recordRetirement' },
          ignore('the first report of what is retired holds (a second advance ran beside it)'),
        ],
        'vendorSwitch.retired': [
          { guard: 'retirementRecorded', target: 'completed', actions: 'complete' },
          ignore('nothing recorded as retiring yet'),
        ],
        'vendorSwitch.abort': ignore('decommissioning: too late to abort'),
      },
    },
    /** Paused: nothing moves until it is resumed (or aborted). */
    paused: {
      on: {
        'vendorSwitch.plan': notRunning,
        'vendorSwitch.advance': ignore('paused'),
        'vendorSwitch.roomCutover': ignore('paused'),
        'vendorSwitch.pause': ignore('already paused'),
        'vendorSwitch.retiring': ignore('not decommissioning'),
        'vendorSwitch.retired': ignore('not decommissioning'),
        'vendorSwitch.resume': [
          {
            guard: { type: 'pausedIn', params: { phase: 'planned' } },
            target: 'planned',
            actions: 'resumed',
          },
          {
            guard: { type: 'pausedIn', params: { phase: 'dualVendor' } },
            target: 'dualVendor',
            actions: 'resumed',
          },
          {
            guard: { type: 'pausedIn', params: { phase: 'cutover' } },
            target: 'cutover',
            actions: 'resumed',
          },
          { target: 'draining', actions: 'resumed' },
        ],
        'vendorSwitch.abort': { target: 'aborted', actions: 'restore' },
      },
    },
    completed: {
      on: {
        'vendorSwitch.plan': notRunning,
        'vendorSwitch.advance': ignore('completed'),
        'vendorSwitch.roomCutover': ignore('completed'),
        'vendorSwitch.pause': ignore('completed'),
        'vendorSwitch.resume': ignore('completed'),
        'vendorSwitch.abort': ignore('completed: too late to abort'),
        'vendorSwitch.retiring': ignore('completed'),
        'vendorSwitch.retired': ignore('completed'),
      },
    },
    aborted: {
      on: {
        'vendorSwitch.plan': notRunning,
        'vendorSwitch.advance': ignore('aborted'),
        'vendorSwitch.roomCutover': ignore('aborted'),
        'vendorSwitch.pause': ignore('aborted'),
        'vendorSwitch.resume': ignore('aborted'),
        'vendorSwitch.abort': ignore('already aborted'),
        'vendorSwitch.retiring': ignore('aborted'),
        'vendorSwitch.retired': ignore('aborted'),
      },
    },
  },
});

export type VendorSwitchSnapshot = SnapshotFrom<typeof vendorSwitchMachine>;
