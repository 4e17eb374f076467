/**
 * The property: its vendor adapters and key-kind policy. Pure; what issuance reads of it goes through the
 * read model the runtime projects from this machine's context.
 */
import { and, assign, type SnapshotFrom, setup } from 'xstate';
import type { KeyKind } from './intents.ts';
import { ignore } from './totality.ts';

/**
 * An adapter's status, as the platform's migration plan names them: `active` issues; `provisional` issues
 * only for credentials that ask for it by name (a pilot), never by policy; `disabled` issues nothing new,
 * while revocations and changes of credentials already on it still run.
 */
export type AdapterStatus = 'active' | 'provisional' | 'disabled';

/** `enabled`, the status's former name, is read as `active` (snapshots and requests from before). */
export function adapterStatus(s: string): AdapterStatus {
  return s === 'enabled'
    ? 'active'
    : s === 'provisional' || s === 'disabled'
      ? s
      : s === 'active'
        ? 'active'
        : 'disabled';
}

export interface VendorAdapterSetting {
  status: AdapterStatus;
  /** Vendor connection settings; secrets appear only as references (`env:NAME`), never as values. */
  config: Record<string, unknown>;
  updatedAt: string;
}

export type KeyKindPolicy = Partial<Record<KeyKind, { preferredOrder: string[] }>>;

export interface PropertyContext {
  id: string;
  tenantId: string;
  name: string;
  timezone: string;
  vendorAdapters: Record<string, VendorAdapterSetting>;
  keyKindPolicy: KeyKindPolicy;
  /** The vendor switch running on the property (one at a time), since when. Absent in older snapshots. */
  runningSwitch?: { id: string; at: string } | null;
  /** The last change a switch made here, by its order: an older one arriving late changes nothing. */
  switchOrder?: SwitchOrder | null;
  createdAt: string;
  updatedAt: string;
}

/** A switch's messages to its property, numbered (they travel as separate effects and may cross). */
export interface SwitchOrder {
  switchId: string;
  seq: number;
}

export type PropertyEvent =
  | { type: 'property.create'; at: string; name: string; timezone: string }
  | {
      type: 'property.setVendorAdapter';
      at: string;
      vendor: string;
      /** `enabled`: the former name of `active`, from messages sent before the rename. */
      status: AdapterStatus | 'enabled';
      config: Record<string, unknown>;
    }
  | { type: 'property.setKeyKindPolicy'; at: string; policy: KeyKindPolicy; switchOrder?: SwitchOrder }
  /** Only an adapter's status, its config as it is (a vendor switch enabling or draining a vendor). */
  | {
      type: 'property.setAdapterStatus';
      at: string;
      vendor: string;
      status: AdapterStatus;
      switchOrder?: SwitchOrder;
    }
  /** A vendor switch takes the property (refused while another runs), and lets it go when it ends. */
  | { type: 'property.claimSwitch'; at: string; switchId: string }
  | { type: 'property.releaseSwitch'; at: string; switchId: string };

export const propertyEventTypes = [
  'property.create',
  'property.setVendorAdapter',
  'property.setKeyKindPolicy',
  'property.setAdapterStatus',
  'property.claimSwitch',
  'property.releaseSwitch',
] as const satisfies readonly PropertyEvent['type'][];

/** An event a switch sent before one already applied here (the same switch, an earlier number). */
function staleSwitchOrder(c: PropertyContext, e: PropertyEvent): boolean {
  if (!('switchOrder' in e) || !e.switchOrder || !c.switchOrder) return false;
  return e.switchOrder.switchId === c.switchOrder.switchId && e.switchOrder.seq <= c.switchOrder.seq;
}
const orderOf = (c: PropertyContext, e: PropertyEvent) =>
  'switchOrder' in e && e.switchOrder
    ? { switchOrder: e.switchOrder }
    : { switchOrder: c.switchOrder ?? null };

export const propertyMachine = setup({
  types: {
    context: {} as PropertyContext,
    events: {} as PropertyEvent,
    input: {} as { id: string; tenantId: string },
  },
  guards: {
    currentSwitchOrder: ({ context, event }) => !staleSwitchOrder(context, event),
    noRunningSwitch: ({ context }) => !context.runningSwitch,
    runningIs: ({ context, event }) =>
      event.type === 'property.releaseSwitch' && context.runningSwitch?.id === event.switchId,
  },
}).createMachine({
  id: 'property',
  context: ({ input }) => ({
    id: input.id,
    tenantId: input.tenantId,
    name: '',
    timezone: 'UTC',
    vendorAdapters: {},
    keyKindPolicy: {},
    createdAt: '',
    updatedAt: '',
  }),
  initial: 'new',
  states: {
    new: {
      on: {
        'property.create': {
          target: 'active',
          actions: assign(({ event }) => ({
            name: event.name,
            timezone: event.timezone,
            createdAt: event.at,
            updatedAt: event.at,
          })),
        },
        'property.setVendorAdapter': ignore('not created: the gateway answers 404 first'),
        'property.setKeyKindPolicy': ignore('not created: the gateway answers 404 first'),
        'property.setAdapterStatus': ignore('not created: no adapter to set'),
        'property.claimSwitch': ignore('not created: the gateway answers 404 first'),
        'property.releaseSwitch': ignore('not created: nothing to release'),
      },
    },
    active: {
      on: {
        'property.create': ignore('already created: a repeated request'),
        'property.setVendorAdapter': {
          actions: assign(({ context, event }) => ({
            vendorAdapters: {
              ...context.vendorAdapters,
              [event.vendor]: {
                status: adapterStatus(event.status),
                config: event.config,
                updatedAt: event.at,
              },
            },
            updatedAt: event.at,
          })),
        },
        'property.setKeyKindPolicy': [
          {
            guard: 'currentSwitchOrder',
            actions: assign(({ context, event }) => ({
              keyKindPolicy: event.policy,
              ...orderOf(context, event),
              updatedAt: event.at,
            })),
          },
          ignore('stale: an earlier change of the same vendor switch'),
        ],
        'property.setAdapterStatus': [
          {
            guard: and([
              'currentSwitchOrder',
              ({ context, event }) => Object.hasOwn(context.vendorAdapters, event.vendor),
            ]),
            actions: assign(({ context, event }) => {
              const current = context.vendorAdapters[event.vendor];
              return current
                ? {
                    vendorAdapters: {
                      ...context.vendorAdapters,
                      [event.vendor]: { ...current, status: event.status, updatedAt: event.at },
                    },
                    ...orderOf(context, event),
                    updatedAt: event.at,
                  }
                : {};
            }),
          },
          ignore('no adapter of that vendor, or an earlier change of the same vendor switch'),
        ],
        'property.claimSwitch': [
          {
            guard: 'noRunningSwitch',
            actions: assign(({ event }) => ({
              runningSwitch: { id: event.switchId, at: event.at },
              updatedAt: event.at,
            })),
          },
          ignore('another vendor switch is running'),
        ],
        'property.releaseSwitch': [
          {
            guard: 'runningIs',
            actions: assign(({ event }) => ({ runningSwitch: null, updatedAt: event.at })),
          },
          ignore('not the running switch'),
        ],
      },
    },
  },
});

export type PropertySnapshot = SnapshotFrom<typeof propertyMachine>;
