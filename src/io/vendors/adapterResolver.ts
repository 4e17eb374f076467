/**
 * Finds the adapter for a property's vendor: reads the property's adapter setting from the read model
 * (cached at most `cacheMs`, read again ahead of expiry and once for all callers: `refreshingCache.ts`),
 * and keeps one adapter and one circuit breaker per tenant, property and configuration.
 *
 * Simulated mode uses the vendor's simulator whatever a tenant stored (tenant URLs are ignored). Live mode
 * uses the tenant's config: `secret:NAME` references are the property's own vendor secrets (sealed, per
 * tenant), `env:NAME` references only what the operator allowed that tenant, and every URL passes the
 * egress policy when the adapter is built and again at each connection. Adapters are never shared between
 * tenants or properties: two tenants naming the same secret get their own.
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
import { wrapAdapterCalls } from './guardedAdapter.ts';
import { configUrlProblem, type EgressPolicy, egressForTenant } from './egress.ts';
import { type LockAdapter, VendorError } from './port.ts';
import { createRefreshingCache } from './refreshingCache.ts';
import type { CurrentSecrets, VendorSecretStore } from './vendorSecrets.ts';

export interface ResolvedAdapter {
  key: string;
  adapter: LockAdapter;
  breaker: CircuitBreaker;
}

/**
 * A property adapter's secrets that rotate themselves, named by the config field that references them
 * (`refreshToken: 'secret:NAME'`): see `VendorSecretStore.rotate`.
 */
export interface RotatingSecrets {
  rotate(field: string, next: (current: string) => Promise<string>): Promise<string>;
}

/**
 * Builds a vendor's adapter; in live mode, `egress` is the policy of the tenant it serves and `secrets` its
 * property's rotating secrets.
 */
export type AdapterFactory = (
  config: Record<string, unknown>,
  egress?: EgressPolicy,
  secrets?: RotatingSecrets,
) => LockAdapter;

export interface AdapterResolverOptions {
  runtimeDb: Db;
  clock: Clock;
  factories: Record<string, AdapterFactory>;
  /** `simulated`: every property uses `defaults` (the simulators); `live`: the property's own config. */
  mode: 'simulated' | 'live';
  defaults: Record<string, Record<string, unknown>>;
  /** The property's vendor secrets (live mode's `secret:NAME`). */
  secretStore?: VendorSecretStore;
  /** The value of `env:NAME` for a tenant, when the operator allowed it (VENDOR_SECRET_ENV_ALLOW). */
  envSecret: (tenantId: string, name: string) => string | undefined;
  egress: EgressPolicy;
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

type Settings = Record<string, { status: string; config: Record<string, unknown> }>;

/** The secret and environment references of a config. */
function referencesOf(config: Record<string, unknown>) {
  const secrets: string[] = [];
  const env: string[] = [];
  for (const v of Object.values(config)) {
    if (typeof v !== 'string') continue;
    if (v.startsWith('secret:')) secrets.push(v.slice('secret:'.length));
    else if (v.startsWith('env:')) env.push(v.slice('env:'.length));
  }
  return { secrets, env };
}

/**
 * Calls `onSuccess` after the first call of the adapter that succeeds, until `onSuccess` answers true (a
 * confirmation that failed is tried again after the next successful call).
 */
function confirmingSuccess(adapter: LockAdapter, onSuccess: () => Promise<boolean>): LockAdapter {
  let confirmed = false;
  return wrapAdapterCalls(adapter, (_name, call) => {
    const result = call();
    if (!confirmed && result instanceof Promise)
      result.then(
        () => {
          if (confirmed) return;
          confirmed = true;
          void onSuccess().then((done) => {
            if (!done) confirmed = false;
          });
        },
        () => undefined,
      );
    return result;
  });
}

export function createAdapterResolver(o: AdapterResolverOptions): AdapterResolver {
  const cacheMs = o.cacheMs ?? 2000;
  const settings = createRefreshingCache<Settings>({ clock: o.clock, ttlMs: cacheMs });
  const secretCache = createRefreshingCache<CurrentSecrets>({ clock: o.clock, ttlMs: cacheMs });
  const adapters = new Map<string, ResolvedAdapter>();
  /** The adapter key each tenant/property/vendor uses now: a rotated secret replaces the old adapter. */
  const latest = new Map<string, string>();

  function make(
    vendor: string,
    key: string,
    config: Record<string, unknown>,
    egress?: EgressPolicy,
    wrap?: (a: LockAdapter) => LockAdapter,
    secrets?: RotatingSecrets,
  ) {
    const factory = o.factories[vendor];
    if (!factory) throw new LockError('LOCK.VENDOR_NOT_ENABLED', `no adapter for vendor ${vendor}`);
    const adapter = factory(config, egress, secrets);
    const r: ResolvedAdapter = {
      key,
      adapter: wrap ? wrap(adapter) : adapter,
      breaker: new CircuitBreaker({
        ...o.breaker,
        clock: o.clock,
        onStateChange: (s) => o.onBreakerState?.(vendor, s),
      }),
    };
    adapters.set(key, r);
    return r;
  }

  function defaultFor(vendor: string): ResolvedAdapter {
    const config = o.defaults[vendor];
    if (!config)
      throw new LockError('LOCK.VENDOR_NOT_ENABLED', `vendor ${vendor} has no default configuration`);
    const key = `default:${vendor}`;
    return adapters.get(key) ?? make(vendor, key, config);
  }

  async function secretsOf(
    tenantId: string,
    propertyId: string,
    vendor: string,
    names: string[],
    fresh: boolean,
  ) {
    if (names.length === 0) return { values: new Map<string, string>(), versions: {}, hasOlder: false };
    if (!o.secretStore) throw new LockError('LOCK.VENDOR_NOT_ENABLED', 'vendor secrets are not available');
    // The names are part of the key: a config that starts naming another secret must not skip its check.
    const store = o.secretStore;
    const cacheKey = `${tenantId}:${propertyId}:${vendor}:${[...names].sort().join(',')}`;
    return secretCache.get(cacheKey, () => store.current({ tenantId, propertyId, vendor }, names), {
      fresh,
    });
  }

  async function live(
    tenantId: string,
    propertyId: string,
    vendor: string,
    config: Record<string, unknown>,
    fresh: boolean,
  ): Promise<ResolvedAdapter> {
    const refs = referencesOf(config);
    const secrets = await secretsOf(tenantId, propertyId, vendor, refs.secrets, fresh);
    const scope = `${tenantId}:${propertyId}:${vendor}`;
    const key = `${scope}:${JSON.stringify(config)}:${JSON.stringify(secrets.versions)}`;
    const existing = adapters.get(key);
    if (existing) return existing;
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) {
      if (typeof v === 'string' && v.startsWith('secret:')) resolved[k] = secrets.values.get(v.slice(7));
      else if (typeof v === 'string' && v.startsWith('env:')) {
        const value = o.envSecret(tenantId, v.slice(4));
        if (value === undefined)
          throw new LockError(
            'LOCK.VENDOR_NOT_ENABLED',
            `config.${k}: ${v} is not allowed for this tenant; store it with PUT …/secrets/<name>`,
          );
        resolved[k] = value;
      } else resolved[k] = v;
    }
    // The operator's allow-list as it applies to this tenant (entries for all tenants, and its own).
    const egress = egressForTenant(o.egress, tenantId);
    const refused = await configUrlProblem(egress, config);
    if (refused) throw new VendorError('PERMISSION', refused);
    const previous = latest.get(scope);
    if (previous && previous !== key) adapters.delete(previous);
    latest.set(scope, key);
    const address = { tenantId, propertyId, vendor };
    const versions = secrets.versions;
    const store = o.secretStore;
    const rotating: RotatingSecrets | undefined = store && {
      rotate(field, next) {
        const ref = config[field];
        if (typeof ref !== 'string' || !ref.startsWith('secret:'))
          throw new VendorError(
            'AUTH',
            `config.${field} must name a property secret (secret:NAME) to rotate`,
          );
        return store.rotate(address, ref.slice('secret:'.length), next);
      },
    };
    // After a rotation, the older versions go once the new ones are shown to work: a first call that
    // succeeds (some answer without asking the vendor) is followed by the vendor's own health check.
    return make(
      vendor,
      key,
      resolved,
      egress,
      secrets.hasOlder && o.secretStore
        ? (a) =>
            confirmingSuccess(a, () =>
              a
                .health()
                .then(() => o.secretStore?.destroyOlder(address, versions))
                .then(() => {
                  secretCache.invalidate((k) => k.startsWith(`${scope}:`));
                  return true;
                })
                .catch(() => false),
            )
        : undefined,
      rotating,
    );
  }

  return {
    async resolve(tenantId, propertyId, vendor, options = {}) {
      const configured = await settings.get(
        `${tenantId}:${propertyId}`,
        async () => {
          const row = await withTenant(o.runtimeDb, tenantId, (tx) =>
            tx
              .selectFrom('properties')
              .select('vendor_adapters')
              .where('id', '=', propertyId)
              .executeTakeFirst(),
          );
          if (!row) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${propertyId}`);
          return row.vendor_adapters as Settings;
        },
        { fresh: options.fresh === true },
      );
      const setting = Object.hasOwn(configured, vendor) ? configured[vendor] : undefined;
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
      if (o.mode === 'simulated') return defaultFor(vendor);
      const config = setting.config ?? {};
      if (Object.keys(config).length === 0)
        throw new LockError('LOCK.VENDOR_NOT_ENABLED', `vendor ${vendor} has no configuration`);
      return live(tenantId, propertyId, vendor, config, options.fresh === true);
    },
    defaultFor,
  };
}
