/**
 * Every vendor the service speaks to: how to build its adapter from a property's (resolved) config and
 * what it can issue, known without building one. Adding a vendor is one entry here.
 */
import type { Clock } from '../../ids.ts';
import type { KeyKind } from '../../machines/index.ts';
import type { AdapterFactory } from './adapterResolver.ts';
import type { LockAdapter, VendorCapabilities } from './port.ts';
import { capabilities as saltoKs, createSaltoKsAdapter, type SaltoKsConfig } from './saltoKs/adapter.ts';
import {
  capabilities as saltoSpace,
  createSaltoSpaceAdapter,
  type SaltoSpaceConfig,
} from './saltoSpace/adapter.ts';
import { capabilities as seam, createSeamAdapter, type SeamConfig } from './seam/adapter.ts';
import { capabilities as vostio, createVostioAdapter, type VostioConfig } from './vostio/adapter.ts';
import { createTtlockAdapter, capabilities as ttlock, type TtlockConfig } from './ttlock/adapter.ts';

export interface VendorDeps {
  clock: Clock;
  timeoutMs: number;
}

interface VendorEntry {
  capabilities: VendorCapabilities;
  create(config: Record<string, unknown>, deps: VendorDeps): LockAdapter;
}

// Configs are checked where a property stores them (REST schema); here they are taken as that shape.
const entries: Record<string, VendorEntry> = {
  ttlock: {
    capabilities: ttlock,
    create: (config, d) => createTtlockAdapter({ config: config as unknown as TtlockConfig, ...d }),
  },
  'salto-ks': {
    capabilities: saltoKs,
    create: (config, d) => createSaltoKsAdapter({ config: config as unknown as SaltoKsConfig, ...d }),
  },
  'salto-space': {
    capabilities: saltoSpace,
    create: (config, d) =>
      createSaltoSpaceAdapter({ config: config as unknown as SaltoSpaceConfig, timeoutMs: d.timeoutMs }),
  },
  vostio: {
    capabilities: vostio,
    create: (config, d) => createVostioAdapter({ config: config as unknown as VostioConfig, ...d }),
  },
  seam: {
    capabilities: seam,
    create: (config, d) =>
      createSeamAdapter({ config: config as unknown as SeamConfig, timeoutMs: d.timeoutMs }),
  },
};

export const vendorNames = Object.keys(entries);

export function adapterFactories(deps: VendorDeps): Record<string, AdapterFactory> {
  return Object.fromEntries(Object.entries(entries).map(([v, e]) => [v, (config) => e.create(config, deps)]));
}

export function supportsKind(vendor: string, kind: KeyKind): boolean {
  return entries[vendor]?.capabilities.kinds.includes(kind) ?? false;
}
