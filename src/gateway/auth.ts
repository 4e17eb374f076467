/**
 * Bearer JWT authentication. Production verifies against a JWKS (issuer, audience); development signs
 * and verifies with a local secret. The tenant is the token's `tenant_id` claim, never the body.
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { LockError } from '../errors.ts';

export interface Principal {
  tenantId: string;
  subject: string;
}

export interface Authenticator {
  verify(authorization: string | undefined): Promise<Principal>;
}

export const DEV_ISSUER = 'lock-integration-dev';
export const DEV_AUDIENCE = 'lock-integration';

function principalOf(payload: JWTPayload): Principal {
  const tenantId = payload.tenant_id;
  if (typeof tenantId !== 'string' || tenantId.length === 0 || tenantId.length > 128) {
    throw new LockError('LOCK.FORBIDDEN', 'the token has no tenant_id claim');
  }
  return { tenantId, subject: payload.sub ?? 'unknown' };
}

function bearer(authorization: string | undefined): string {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m?.[1]) throw new LockError('LOCK.UNAUTHENTICATED', 'an Authorization: Bearer token is required');
  return m[1];
}

async function verifyWith(fn: () => Promise<{ payload: JWTPayload }>): Promise<Principal> {
  let payload: JWTPayload;
  try {
    ({ payload } = await fn());
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new LockError(
      'LOCK.UNAUTHENTICATED',
      code === 'ERR_JWT_EXPIRED' ? 'the token has expired' : 'the token is not valid',
    );
  }
  return principalOf(payload);
}

export function createDevAuthenticator(secret: Uint8Array): Authenticator {
  return {
    verify: (authorization) => {
      const token = bearer(authorization);
      return verifyWith(() =>
        jwtVerify(token, secret, { issuer: DEV_ISSUER, audience: DEV_AUDIENCE, algorithms: ['HS256'] }),
      );
    },
  };
}

export function createJwksAuthenticator(jwksUrl: string, issuer: string, audience: string): Authenticator {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  return {
    verify: (authorization) => {
      const token = bearer(authorization);
      return verifyWith(() => jwtVerify(token, jwks, { issuer, audience }));
    },
  };
}

/** A development token the dev authenticator accepts. */
export function signDevToken(
  secret: Uint8Array,
  tenantId: string,
  ttlSeconds = 12 * 3600,
  subject = 'dev-user',
): Promise<string> {
  return new SignJWT({ tenant_id: tenantId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(secret);
}
