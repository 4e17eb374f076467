/**
 * `/sync/v1`: the desk agents' own surface (the deployment topology's sync handlers). No bearer token: each
 * request is an agent message signed with the agent's device key (`src/desktop/envelope.ts`), checked against
 * the enrolled key, so only an enrolled, active agent is answered.
 *
 * - `POST /sync/v1/handshake` (`name: handshake`, body `{clock}`): a new offline-issuance certificate for the
 *   agent (renewed while it is online), the service's public key to check it with, and the clock difference.
 *   Not built yet: `GET /sync/v1/pull` (mirror and revocation list) and `POST /sync/v1/push` (provisional
 *   credentials to reconcile).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { issueCertificate } from '../../desktop/certificates.ts';
import { verifyMessage } from '../../desktop/envelope.ts';
import { LockError } from '../../errors.ts';
import type { GatewayPorts } from '../ports.ts';
import { problemResponses } from '../schemas.ts';

const SignedRequest = Type.Object(
  {
    v: Type.Literal(1),
    agentId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    propertyId: Type.String({ maxLength: 128 }),
    name: Type.String({ maxLength: 40 }),
    boot: Type.String({ maxLength: 64 }),
    seq: Type.Integer({ minimum: 0 }),
    at: Type.String({ maxLength: 40 }),
    body: Type.Object({ clock: Type.String({ format: 'date-time' }) }, { additionalProperties: false }),
    sig: Type.String({ maxLength: 200 }),
  },
  { additionalProperties: false },
);

/** How long a certificate lives (renewed while the agent is online), and a provisional credential at most. */
const CERTIFICATE_LIFETIME_MS = 24 * 3_600_000;
const MAX_PROVISIONAL_VALIDITY_HOURS = 72;

export function syncRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/sync/v1/handshake',
      {
        schema: {
          tags: ['desktop sync'],
          summary: "A desk agent's handshake: an offline-issuance certificate, signed by the service",
          security: [],
          body: SignedRequest,
          response: {
            200: Type.Object({
              certificate: Type.Record(Type.String(), Type.Unknown()),
              servicePublicKey: Type.String(),
              serverTime: Type.String(),
              clockSkewMs: Type.Integer(),
            }),
            ...problemResponses(401, 403, 429),
          },
        },
      },
      async (req) => {
        const m = req.body;
        if (m.name !== 'handshake') throw new LockError('LOCK.UNAUTHENTICATED', 'not a handshake');
        const identity = await p.desktopAgents.identity(m.agentId);
        const now = p.clock.now();
        const r = verifyMessage(JSON.stringify(m), {
          // The message names its own subject: what is checked is who signed it, and when.
          subject: `${p.desktopRoot}.${m.propertyId}.${m.agentId}.evt.handshake`,
          agent: identity,
          now,
        });
        if (!r.ok)
          throw new LockError(
            r.refusal === 'REVOKED_AGENT' ? 'LOCK.FORBIDDEN' : 'LOCK.UNAUTHENTICATED',
            `${r.refusal}: ${r.reason}`,
          );
        if (!identity) throw new LockError('LOCK.UNAUTHENTICATED', 'no such agent');
        const certificate = await issueCertificate(p.offline.signer, {
          tenantId: identity.tenantId,
          propertyId: identity.propertyId,
          agentId: m.agentId,
          agentKey: identity.publicKey,
          kinds: ['card'],
          rooms: '*',
          maxValidityHours: MAX_PROVISIONAL_VALIDITY_HOURS,
          notBefore: now.toISOString(),
          notAfter: new Date(now.getTime() + CERTIFICATE_LIFETIME_MS).toISOString(),
        });
        const recorded = await p.offline.certificates.record(certificate);
        if (recorded === 'revoked') throw new LockError('LOCK.FORBIDDEN', `agent ${m.agentId} is revoked`);
        if (recorded === 'too_soon')
          throw new LockError(
            'LOCK.RATE_LIMITED',
            'a certificate was issued to this agent less than 30 s ago',
          );
        req.log.info(
          { agentId: m.agentId, serial: certificate.serial },
          'offline-issuance certificate issued',
        );
        return {
          certificate: certificate as unknown as Record<string, unknown>,
          servicePublicKey: await p.offline.signer.publicKeyPem(),
          serverTime: now.toISOString(),
          clockSkewMs: Date.parse(m.body.clock) - now.getTime(),
        };
      },
    );
  };
}
