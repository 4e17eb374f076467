/**
 * What a tenant may put in a vendor adapter's config, checked when it is stored (and, by the resolver,
 * again when it is used): secrets only as `secret:NAME` (the property's own sealed secrets) — `env:NAME`
 * only where the operator allowed that tenant that variable (`VENDOR_SECRET_ENV_ALLOW=tenant:VAR,…`, for a
 * single-tenant install) —, and in live mode URLs that pass the egress policy.
 */
import { LockError } from '../../errors.ts';
import { configUrlProblem, type EgressPolicy, egressForTenant } from './egress.ts';

export interface VendorConfigPolicy {
  mode: 'simulated' | 'live';
  egress: EgressPolicy;
  /** Tenant → environment variables its configs may reference. */
  envAllow: ReadonlyMap<string, ReadonlySet<string>>;
}

export function parseEnvAllow(text: string | undefined): Map<string, Set<string>> {
  const allow = new Map<string, Set<string>>();
  for (const entry of (text ?? '').split(',')) {
    const [tenant, name, ...rest] = entry.trim().split(':');
    if (!tenant || !name || rest.length > 0) continue;
    const names = allow.get(tenant) ?? new Set<string>();
    names.add(name);
    allow.set(tenant, names);
  }
  return allow;
}

/** The resolver's `env:NAME` lookup: the value only where the tenant is allowed it. */
export function allowedEnv(
  policy: VendorConfigPolicy,
  env: Record<string, string | undefined>,
): (tenantId: string, name: string) => string | undefined {
  return (tenantId, name) => (policy.envAllow.get(tenantId)?.has(name) ? env[name] : undefined);
}

export async function checkVendorConfig(
  policy: VendorConfigPolicy,
  tenantId: string,
  config: Record<string, unknown>,
): Promise<void> {
  for (const [field, value] of Object.entries(config)) {
    if (typeof value !== 'string' || !value.startsWith('env:')) continue;
    if (!policy.envAllow.get(tenantId)?.has(value.slice(4)))
      throw new LockError(
        'LOCK.VALIDATION',
        `config.${field}: environment references are for operators; store the secret with ` +
          `PUT …/vendor-adapters/<vendor>/secrets/<name> and reference it as secret:<name>`,
      );
  }
  if (policy.mode !== 'live') return;
  const refused = await configUrlProblem(egressForTenant(policy.egress, tenantId), config);
  if (refused) throw new LockError('LOCK.VALIDATION', refused);
}
