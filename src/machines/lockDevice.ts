/**
 * A lock device in a room: registered and active until decommissioned; vendor reports (webhooks) keep
 * its battery and connectivity, and crossing into low battery or offline is published once. Pure.
 */
import { assign, enqueueActions, type SnapshotFrom, setup } from 'xstate';
import type { DomainEventIntent } from './intents.ts';
import { ignore } from './totality.ts';

export type LockDeviceStatus = 'registered' | 'active' | 'decommissioned';

export interface LockDeviceContext {
  id: string;
  tenantId: string;
  propertyId: string;
  roomId: string;
  vendor: string;
  vendorDeviceRef: string;
  areas: string[];
  /** Last reported battery percent and connectivity; absent until a vendor reports them. */
  battery?: number | null;
  online?: boolean | null;
  /** When the lock last opened for a credential, as the vendor reports (confirmed where unsigned). */
  lastAccessAt?: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Below this percent a lock is reported low (once, until it is back above). */
export const BATTERY_LOW_PERCENT = 20;

export type LockDeviceEvent =
  | {
      type: 'lockDevice.register';
      at: string;
      propertyId: string;
      roomId: string;
      vendor: string;
      vendorDeviceRef: string;
      areas: string[];
    }
  | { type: 'lockDevice.decommission'; at: string; reason: string }
  | { type: 'lockDevice.vendorReport'; at: string; battery?: number; online?: boolean; accessAt?: string };

export const lockDeviceEventTypes = [
  'lockDevice.register',
  'lockDevice.decommission',
  'lockDevice.vendorReport',
] as const satisfies readonly LockDeviceEvent['type'][];

export const lockDeviceMachine = setup({
  types: {
    context: {} as LockDeviceContext,
    events: {} as LockDeviceEvent,
    input: {} as { id: string; tenantId: string },
  },
  actions: {
    publishEvent: (_: unknown, _params: DomainEventIntent) => {},
  },
}).createMachine({
  id: 'lockDevice',
  context: ({ input }) => ({
    id: input.id,
    tenantId: input.tenantId,
    propertyId: '',
    roomId: '',
    vendor: '',
    vendorDeviceRef: '',
    areas: [],
    createdAt: '',
    updatedAt: '',
  }),
  initial: 'new',
  states: {
    new: {
      on: {
        // Registration is accepted as the vendor's listing says; verification against the vendor comes with
        // bulk import, which reads the same listing.
        'lockDevice.register': {
          target: 'active',
          actions: [
            assign(({ event }) => ({
              propertyId: event.propertyId,
              roomId: event.roomId,
              vendor: event.vendor,
              vendorDeviceRef: event.vendorDeviceRef,
              areas: event.areas,
              createdAt: event.at,
              updatedAt: event.at,
            })),
            {
              type: 'publishEvent',
              params: ({ context }) => ({
                verb: 'registered',
                data: {
                  roomId: context.roomId,
                  vendor: context.vendor,
                  vendorDeviceRef: context.vendorDeviceRef,
                },
              }),
            },
          ],
        },
        'lockDevice.decommission': ignore('not registered: nothing to decommission'),
        'lockDevice.vendorReport': ignore('not registered: a report about a lock not known yet'),
      },
    },
    active: {
      on: {
        'lockDevice.register': ignore('already registered: a repeated registration'),
        'lockDevice.vendorReport': [
          {
            guard: ({ context, event }) =>
              (event.battery !== undefined && event.battery !== context.battery) ||
              (event.online !== undefined && event.online !== context.online) ||
              // Access only moves forward: a late or repeated report of an older opening changes nothing.
              (event.accessAt !== undefined && event.accessAt > (context.lastAccessAt ?? '')),
            actions: enqueueActions(({ context, event, enqueue }) => {
              const battery = event.battery ?? context.battery ?? null;
              const online = event.online ?? context.online ?? null;
              const wasLow = typeof context.battery === 'number' && context.battery < BATTERY_LOW_PERCENT;
              if (typeof battery === 'number' && battery < BATTERY_LOW_PERCENT && !wasLow)
                enqueue({ type: 'publishEvent', params: { verb: 'battery_low', data: { battery } } });
              if (
                online !== null &&
                online !== (context.online ?? null) &&
                (context.online != null || !online)
              )
                enqueue({ type: 'publishEvent', params: { verb: online ? 'online' : 'offline' } });
              const lastAccessAt =
                event.accessAt && event.accessAt > (context.lastAccessAt ?? '')
                  ? event.accessAt
                  : (context.lastAccessAt ?? null);
              enqueue.assign({ battery, online, lastAccessAt, updatedAt: event.at });
            }),
          },
          ignore('nothing new: the battery, connectivity and last opening it already has'),
        ],
        'lockDevice.decommission': {
          target: 'decommissioned',
          actions: [
            assign(({ event }) => ({ updatedAt: event.at })),
            {
              type: 'publishEvent',
              params: ({ event }) => ({ verb: 'decommissioned', data: { reason: event.reason } }),
            },
          ],
        },
      },
    },
    decommissioned: {
      on: {
        'lockDevice.register': ignore('decommissioned: a new device is a new registration'),
        'lockDevice.decommission': ignore('already decommissioned'),
        'lockDevice.vendorReport': ignore('decommissioned: its reports no longer matter'),
      },
    },
  },
});

export type LockDeviceSnapshot = SnapshotFrom<typeof lockDeviceMachine>;

/** The contract status of a lock device snapshot. Pure. */
export function lockDeviceStatus(s: LockDeviceSnapshot): LockDeviceStatus {
  return s.value === 'new' ? 'registered' : (s.value as LockDeviceStatus);
}
