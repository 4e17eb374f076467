/**
 * The property: its vendor adapters and key-kind policy. Pure; what issuance reads of it goes through the
 * read model the runtime projects from this machine's context.
 */
import { assign, type SnapshotFrom, setup } from 'xstate';
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
  createdAt: string;
  updatedAt: string;
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
  | { type: 'property.setKeyKindPolicy'; at: string; policy: KeyKindPolicy }
  /** Only an adapter's status, its config as it is (a vendor switch enabling or draining a vendor). */
  | { type: 'property.setAdapterStatus'; at: string; vendor: string; status: AdapterStatus };

export const propertyEventTypes = [
  'property.create',
  'property.setVendorAdapter',
  'property.setKeyKindPolicy',
  'property.setAdapterStatus',
] as const satisfies readonly PropertyEvent['type'][];

export const propertyMachine = setup({
  types: {
    context: {} as PropertyContext,
    events: {} as PropertyEvent,
    input: {} as { id: string; tenantId: string },
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
        'property.setKeyKindPolicy': {
          actions: assign(({ event }) => ({ keyKindPolicy: event.policy, updatedAt: event.at })),
        },
        'property.setAdapterStatus': [
          {
            guard: ({ context, event }) => Object.hasOwn(context.vendorAdapters, event.vendor),
            actions: assign(({ context, event }) => {
              const current = context.vendorAdapters[event.vendor];
              return current
                ? {
                    vendorAdapters: {
                      ...context.vendorAdapters,
                      [event.vendor]: { ...current, status: event.status, updatedAt: event.at },
                    },
                    updatedAt: event.at,
                  }
                : {};
            }),
          },
          ignore('no adapter of that vendor: nothing to set'),
        ],
      },
    },
  },
});

export type PropertySnapshot = SnapshotFrom<typeof propertyMachine>;
