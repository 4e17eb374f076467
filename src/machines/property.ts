/**
 * The property: its vendor adapters and key-kind policy. Pure; what issuance reads of it goes through the
 * read model the runtime projects from this machine's context.
 */
import { assign, type SnapshotFrom, setup } from 'xstate';
import type { KeyKind } from './intents.ts';

export interface VendorAdapterSetting {
  status: 'enabled' | 'disabled';
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
      status: 'enabled' | 'disabled';
      config: Record<string, unknown>;
    }
  | { type: 'property.setKeyKindPolicy'; at: string; policy: KeyKindPolicy };

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
      },
    },
    active: {
      on: {
        'property.setVendorAdapter': {
          actions: assign(({ context, event }) => ({
            vendorAdapters: {
              ...context.vendorAdapters,
              [event.vendor]: { status: event.status, config: event.config, updatedAt: event.at },
            },
            updatedAt: event.at,
          })),
        },
        'property.setKeyKindPolicy': {
          actions: assign(({ event }) => ({ keyKindPolicy: event.policy, updatedAt: event.at })),
        },
      },
    },
  },
});

export type PropertySnapshot = SnapshotFrom<typeof propertyMachine>;
