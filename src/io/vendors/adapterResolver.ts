/**
 * Finds the adapter for a property's vendor: reads the property's adapter setting from the read model
 * (cached briefly), resolves secret references, and keeps one adapter and one circuit breaker per
 * distinct configuration.
 *
 * The adapter's status decides only new issuance: an `active` or `provisional` adapter issues, a `disabled`
 * one does not; revokes and validity changes of credentials already on it run whatever its status (a
 * disabled adapter must still be able to close what it opened). Where a stale status must not decide (a
 * retried issue after an operator disabled the adapter), the caller asks for a fresh read.
 */
import { LockError } from '../../errors.ts';
import type { Clock } from '../../ids.ts';
import { adapterStatus } from '../../machines/index.ts';
import { type Db, withTenant } from '../db/index.ts';
import { CircuitBreaker } from './circuitBreaker.ts';
import type { LockAdapter } from './port.ts';

export interface ResolvedAdapter {
  key: string;
  adapter: LockAdapter;
  breaker: CircuitBreaker;
}

export type AdapterFactory = (config: Record<string, unknown>) => LockAdapter;

export interface AdapterResolverOptions {
  runtimeDb: Db;
  clock: Clock;
  factories: Record<string, AdapterFactory>;
  /** Config used when a property's adapter config is empty (simulated mode: the vendor's simulator). */
  defaults: Record<string, Record<string, unknown>>;
  /** Resolves `env:NAME` references in configs. */
  secrets: (ref: string) => string | undefined;
  breaker: { openAfterFailures: number; resetAfterMs: number };
  cacheMs?: number;
  onBreakerState?: (vendor: string, state: string) => void;
}

export interface ResolveOptions {
  /** For a new credential: refused (VENDOR_NOT_ENABLED) when the adapter is disabled. */
  issue?: boolean;
  /** Read the setting now rather than from the cache. */
  fresh?: boolean;
}

export interface AdapterResolver {
  resolve(
    tenantId: string,
    propertyId: string,
    vendor: string,
    options?: ResolveOptions,
  ): Promise<ResolvedAdapter>;
  /** The adapter of a vendor's default configuration (simulated mode, tools). */
  defaultFor(vendor: string): ResolvedAdapter;
}

export function createAdapterResolver(o: AdapterResolverOptions): AdapterResolver {
  const cacheMs = o.cacheMs ?? 2000;
  type Settings = Record<string, { status: string; config: Record<string, unknown> }>;
  const settings = new Map<string, { at: number; value: Settings }>();
  const adapters = new Map<string, ResolvedAdapter>();

  function build(vendor: string, config: Record<string, unknown>): ResolvedAdapter {
    const key = `${vendor}:${JSON.stringify(config)}`;
    let r = adapters.get(key);
    if (!r) {
      const factory = o.factories[vendor];
      if (!factory) throw new LockError('LOCK.VENDOR_NOT_ENABLED', `no adapter for vendor ${vendor}`);
      const resolved = Object.fromEntries(
        Object.entries(config).map(([k, v]) => [
          k,
          typeof v === 'string' && v.startsWith('env:') ? o.secrets(v) : v,
        ]),
      );
      r = {
        key,
        adapter: factory(resolved),
        breaker: new CircuitBreaker({
          ...o.breaker,
          clock: o.clock,
          onStateChange: (s) => o.onBreakerState?.(vendor, s),
        }),
      };
      adapters.set(key, r);
    }
    return r;
  }

  return {
    async resolve(tenantId, propertyId, vendor, options = {}) {
      const cacheKey = `${tenantId}:${propertyId}`;
      let s = settings.get(cacheKey);
      if (!s || options.fresh || o.clock.now().getTime() - s.at > cacheMs) {
        const row = await withTenant(o.runtimeDb, tenantId, (tx) =>
          tx
            .selectFrom('properties')
            .select('vendor_adapters')
            .where('id', '=', propertyId)
            .executeTakeFirst(),
        );
        if (!row) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${propertyId}`);
        s = { at: o.clock.now().getTime(), value: row.vendor_adapters as Settings };
        settings.set(cacheKey, s);
      }
      const setting = Object.hasOwn(s.value, vendor) ? s.value[vendor] : undefined;
      if (!setting)
        throw new LockError(
          'LOCK.VENDOR_NOT_ENABLED',
          `vendor ${vendor} is not set up for property ${propertyId}`,
        );
      if (options.issue && adapterStatus(setting.status) === 'disabled') {
        throw new LockError(
          'LOCK.VENDOR_NOT_ENABLED',
          `vendor ${vendor} is disabled for property ${propertyId}`,
        );
      }
      const config = Object.keys(setting.config ?? {}).length > 0 ? setting.config : o.defaults[vendor];
      if (!config) throw new LockError('LOCK.VENDOR_NOT_ENABLED', `vendor ${vendor} has no configuration`);
      return build(vendor, config);
    },
    defaultFor(vendor) {
      const config = o.defaults[vendor];
      if (!config)
        throw new LockError('LOCK.VENDOR_NOT_ENABLED', `vendor ${vendor} has no default configuration`);
      return build(vendor, config);
    },
  };
}
