/**
 * Where vendor calls may go. A tenant names its vendor's URL, so a URL is an attacker's choice until shown
 * otherwise: in live mode it must be https and every address its host resolves to must be public (not
 * loopback, private, link-local — the cloud metadata service —, CGNAT, multicast or reserved). The check
 * runs when a config is stored and again when each connection is made, on the address actually
 * connected to, so a name that resolves to a public address first and to 127.0.0.1 later (DNS rebinding)
 * is refused at connect. An operator allow-list (`VENDOR_EGRESS_ALLOW=host[:port],…`) names hosts that may
 * be private, and plain HTTP (an on-premises Salto Space server on the hotel's network).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { LockError } from '../../errors.ts';

export interface EgressPolicy {
  /** `host` or `host:port` (lower case) an operator allowed to be private and plain HTTP. */
  allow: ReadonlySet<string>;
  /** The resolver (the system's by default); tests give one that changes its answer. */
  resolve?: (host: string) => Promise<LookupAddress[]>;
}

/** The largest vendor answer read (a lock list of a big property is well below it). */
export const VENDOR_RESPONSE_LIMIT = 4 * 1024 * 1024;

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** True for an address a vendor's public API can never have. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    // IPv4-mapped addresses are checked as the IPv4 address they carry (a ::ffff:0:0/96 rule in the
    // BlockList would match every IPv4 address too).
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true;
}

/**
 * `VENDOR_EGRESS_ALLOW`: `tenant@host[:port]` allows one tenant a host (an on-premises server is one
 * hotel's); a bare `host[:port]` allows every tenant (single-tenant installs). Hosts are lower-cased.
 */
export function parseEgressAllow(text: string | undefined): Set<string> {
  return new Set(
    (text ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h.length > 0)
      .map((h) => {
        const at = h.lastIndexOf('@');
        return at < 0 ? h.toLowerCase() : `${h.slice(0, at)}@${h.slice(at + 1).toLowerCase()}`;
      }),
  );
}

/** The policy as it applies to one tenant: the entries for every tenant and the tenant's own. */
export function egressForTenant(policy: EgressPolicy, tenantId: string): EgressPolicy {
  const allow = new Set<string>();
  for (const e of policy.allow) {
    const at = e.lastIndexOf('@');
    if (at < 0) allow.add(e);
    else if (e.slice(0, at) === tenantId) allow.add(e.slice(at + 1));
  }
  return { ...policy, allow };
}

function allowed(policy: EgressPolicy, host: string, port: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return policy.allow.has(h) || policy.allow.has(`${h}:${port}`);
}

const systemResolve = (host: string) =>
  new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup(host, { all: true }, (e, addresses) => (e ? reject(e) : resolve(addresses))),
  );

function refused(detail: string): LockError {
  return new LockError('LOCK.VALIDATION', `vendor URL refused: ${detail}`);
}

/**
 * Checks a vendor URL before it is stored: https, and a host whose every address is public, unless the
 * operator allowed the host. Throws LOCK.VALIDATION with the reason.
 */
export async function checkVendorUrl(policy: EgressPolicy, raw: string): Promise<void> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused('not a URL');
  }
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (allowed(policy, url.hostname, port)) return;
  if (url.protocol !== 'https:') throw refused(`${url.protocol.replace(':', '')} is not https`);
  if (url.username || url.password) throw refused('credentials in the URL');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: LookupAddress[];
  try {
    addresses = isIP(host)
      ? [{ address: host, family: isIP(host) }]
      : await (policy.resolve ?? systemResolve)(host);
  } catch {
    addresses = [];
  }
  // One answer for both: which internal names exist is not for a tenant to find out.
  if (addresses.length === 0 || addresses.some((a) => isNonPublicAddress(a.address)))
    throw refused(`${host} does not resolve to a public address`);
}

/**
 * A `lookup` for `net.connect` / `tls.connect` (undici's and axios' agents pass it on): resolves as the
 * system does and fails the connection when an address is not public, unless the host is allowed. The
 * socket connects to the address checked here, never to a second resolution.
 */
export function guardedLookup(policy: EgressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const all = (options as { all?: boolean }).all === true;
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
    // `net` passes no port to a lookup: an allow-list entry for any port of the host counts here.
    const hostAllowed = policy.allow.has(host) || [...policy.allow].some((e) => e.startsWith(`${host}:`));
    (policy.resolve ?? systemResolve)(host).then(
      (addresses) => {
        const first = addresses[0];
        if (!first) return callback(egressError(`${host} does not resolve`), '', 0);
        if (!hostAllowed && addresses.some((a) => isNonPublicAddress(a.address)))
          return callback(egressError(`${host} resolved to a non-public address`), '', 0);
        if (all) (callback as (e: null, a: LookupAddress[]) => void)(null, addresses);
        else callback(null, first.address, first.family);
      },
      (e: NodeJS.ErrnoException) => callback(e, '', 0),
    );
  };
}

function egressError(message: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`egress refused: ${message}`);
  e.code = 'EGRESS_REFUSED';
  return e;
}

/** The fields of any vendor's config that name a URL the adapter will call. */
export const VENDOR_URL_FIELDS = ['baseUrl', 'identityUrl', 'endpoint'] as const;

/** Why a config's URLs are refused (`config.<field>: …`), or null when every one passes. */
export async function configUrlProblem(
  policy: EgressPolicy,
  config: Record<string, unknown>,
): Promise<string | null> {
  for (const field of VENDOR_URL_FIELDS) {
    const url = config[field];
    if (typeof url !== 'string') continue;
    try {
      await checkVendorUrl(policy, url);
    } catch (e) {
      return `config.${field}: ${(e as LockError).detail ?? 'refused'}`;
    }
  }
  return null;
}
