/**
 * Bearer JWT authentication. `AUTH_MODE=jwks` verifies against the identity provider's key set with a pinned
 * issuer, audience and algorithm list, and a token must say when it expires; `AUTH_MODE=dev` signs and
 * verifies with a local secret (loopback only, see config.ts). The tenant is the token's `tenant_id` claim,
 * never the body; what the caller may do is its `scope` claim (`scopes.ts`).
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { LockError } from '../errors.ts';
import { ALL_SCOPES, type Scope, scopesOf } from './scopes.ts';

export interface Principal {
  tenantId: string;
  subject: string;
  scopes: ReadonlySet<Scope>;
}

/** How the audit log names the caller: `user:<the token's subject>`. */
export function principalRef(p: Principal): string {
  return `user:${p.subject}`;
}

export interface Authenticator {
  verify(authorization: string | undefined): Promise<Principal>;
}

export const DEV_ISSUER = 'lock-integration-dev';
export const DEV_AUDIENCE = 'lock-integration';

/** Asymmetric algorithms only: a JWKS never holds a shared secret, and `none` or HS* must not be tried. */
export const JWKS_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];

function principalOf(payload: JWTPayload): Principal {
  const tenantId = payload.tenant_id;
  if (typeof tenantId !== 'string' || tenantId.length === 0 || tenantId.length > 128) {
    throw new LockError('LOCK.FORBIDDEN', 'the token has no tenant_id claim');
  }
  const subject = typeof payload.sub === 'string' && payload.sub.length <= 200 ? payload.sub : 'unknown';
  return { tenantId, subject, scopes: scopesOf(payload.scope) };
}

function bearer(authorization: string | undefined): string {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m?.[1]) throw new LockError('LOCK.UNAUTHENTICATED', 'an Authorization: Bearer token is required');
  return m[1];
}

interface Verified {
  principal: Principal;
  /** The token's `exp`, in ms. */
  expiresAt: number;
}

async function verifyWith(fn: () => Promise<{ payload: JWTPayload }>): Promise<Verified> {
  let payload: JWTPayload;
  try {
    ({ payload } = await fn());
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new LockError(
      'LOCK.UNAUTHENTICATED',
      code === 'ERR_JWT_EXPIRED'
        ? 'the token has expired'
        : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (e as { claim?: string }).claim === 'exp'
          ? 'the token has no expiry (exp)'
          : 'the token is not valid',
    );
  }
  return { principal: principalOf(payload), expiresAt: (payload.exp ?? 0) * 1000 };
}

export interface RememberOptions {
  now?: () => number;
  /** Tokens remembered at once (the oldest is forgotten first). */
  maxEntries?: number;
  /** How long a verification is trusted before the token is verified again (a key the issuer withdrew). */
  maxAgeMs?: number;
}

/**
 * A token verified once is trusted again without its signature checked, until it expires and for a minute at
 * most: a client sends the same token with every request, and verifying it was ~3% of the service's CPU
 * under load (jose's HMAC through WebCrypto). A minute is within what jose's key-set cache trusts a key the
 * issuer has withdrawn. Refusals are not remembered (a flood of bad tokens cannot fill the memory).
 */
export function rememberVerified(
  verify: (token: string) => Promise<Verified>,
  o: RememberOptions = {},
): (token: string) => Promise<Principal> {
  const now = o.now ?? Date.now;
  const maxEntries = o.maxEntries ?? 10_000;
  const maxAgeMs = o.maxAgeMs ?? 60_000;
  const known = new Map<string, { principal: Principal; expiresAt: number; trustedUntil: number }>();
  return async (token) => {
    const hit = known.get(token);
    if (hit) {
      const t = now();
      if (t >= hit.expiresAt) {
        known.delete(token);
        throw new LockError('LOCK.UNAUTHENTICATED', 'the token has expired');
      }
      if (t < hit.trustedUntil) return hit.principal;
      known.delete(token);
    }
    const v = await verify(token);
    if (known.size >= maxEntries) known.delete(known.keys().next().value as string);
    known.set(token, { ...v, trustedUntil: now() + maxAgeMs });
    return v.principal;
  };
}

/** Bearer authentication with `verify` for the token, verified tokens remembered. */
function bearerAuthenticator(
  verify: (token: string) => Promise<Verified>,
  o?: RememberOptions,
): Authenticator {
  const remembered = rememberVerified(verify, o);
  return { verify: async (authorization) => remembered(bearer(authorization)) };
}

export function createDevAuthenticator(secret: Uint8Array, remember: RememberOptions = {}): Authenticator {
  return bearerAuthenticator(
    (token) =>
      verifyWith(() =>
        jwtVerify(token, secret, {
          issuer: DEV_ISSUER,
          audience: DEV_AUDIENCE,
          algorithms: ['HS256'],
          requiredClaims: ['exp'],
        }),
      ),
    remember,
  );
}

export interface JwksSettings {
  jwksUrl: string;
  issuer: string;
  audience: string;
}

export function createJwksAuthenticator(s: JwksSettings): Authenticator {
  // Refused here as well as in the config: an empty issuer or audience would make jose skip that check.
  if (!s.jwksUrl || !s.issuer || !s.audience)
    throw new Error('JWKS authentication needs AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE');
  const jwks = createRemoteJWKSet(new URL(s.jwksUrl));
  return bearerAuthenticator((token) =>
    verifyWith(() =>
      jwtVerify(token, jwks, {
        issuer: s.issuer,
        audience: s.audience,
        algorithms: JWKS_ALGORITHMS,
        requiredClaims: ['exp'],
      }),
    ),
  );
}

export interface DevTokenOptions {
  ttlSeconds?: number;
  subject?: string;
  /** Every scope unless narrowed (the quick start's token may do everything). */
  scopes?: readonly Scope[];
}

/** A development token the dev authenticator accepts. */
export function signDevToken(secret: Uint8Array, tenantId: string, o: DevTokenOptions = {}): Promise<string> {
  return new SignJWT({ tenant_id: tenantId, scope: (o.scopes ?? ALL_SCOPES).join(' ') })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(o.subject ?? 'dev-user')
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (o.ttlSeconds ?? 12 * 3600))
    .sign(secret);
}
