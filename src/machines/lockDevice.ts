/** A lock device in a room: registered and active until decommissioned. Pure. */
import { assign, type SnapshotFrom, setup } from 'xstate';
import type { DomainEventIntent } from './intents.ts';

export type LockDeviceStatus = 'registered' | 'active' | 'decommissioned';

export interface LockDeviceContext {
  id: string;
  tenantId: string;
  propertyId: string;
  roomId: string;
  vendor: string;
  vendorDeviceRef: string;
  areas: string[];
  createdAt: string;
  updatedAt: string;
}

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
  | { type: 'lockDevice.decommission'; at: string; reason: string };

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
      },
    },
    active: {
      on: {
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
    decommissioned: { type: 'final' },
  },
});

export type LockDeviceSnapshot = SnapshotFrom<typeof lockDeviceMachine>;

/** The contract status of a lock device snapshot. Pure. */
export function lockDeviceStatus(s: LockDeviceSnapshot): LockDeviceStatus {
  return s.value === 'new' ? 'registered' : (s.value as LockDeviceStatus);
}
