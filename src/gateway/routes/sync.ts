/**
 * `/sync/v1`: the desk agents' own surface (the deployment topology's sync handlers). No bearer token: each
 * request is an agent message signed with the agent's device key (`src/desktop/envelope.ts`), checked against
 * the enrolled key, so only an enrolled agent is answered (a revoked one only to be told so).
 *
 * - `POST /sync/v1/handshake` (`name: handshake`, body `{clock}`): a new offline-issuance certificate for the
 *   agent (renewed while it is online), the service's public key to check it with, the clock difference, and
 *   how the property's cards are encoded (format, facility code) for offline issuance.
 * - `GET /sync/v1/pull?cursor=` (the signed message, `name: pull`, body `{cursor}`, in the
 *   `x-lock-agent-request` header): the property's credentials changed since the cursor (the desk's mirror;
 *   no secrets) and the certificate revocation list, a page at a time.
 * - `POST /sync/v1/push` (`name: push`, body `{items}`): provisional credentials to reconcile
 *   (`src/desktop/reconciliation.ts`); each item answered accepted, accepted with changes, or rejected with
 *   the reason, the same way every time it is pushed.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { CRL_PAGE } from '../../desktop/certificateStore.ts';
import { issueCertificate } from '../../desktop/certificates.ts';
import { type AgentMessage, verifyMessage } from '../../desktop/envelope.ts';
import { MAX_PUSH_ITEMS } from '../../desktop/provisional.ts';
import type { PushingAgent } from '../../desktop/reconciliation.ts';
import { LockError } from '../../errors.ts';
import type { GatewayPorts } from '../ports.ts';
import { problemResponses } from '../schemas.ts';

const signedRequest = <T extends ReturnType<typeof Type.Object>>(body: T) =>
  Type.Object(
    {
      v: Type.Literal(1),
      agentId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
      propertyId: Type.String({ maxLength: 128 }),
      name: Type.String({ maxLength: 40 }),
      boot: Type.String({ maxLength: 64 }),
      seq: Type.Integer({ minimum: 0 }),
      at: Type.String({ maxLength: 40 }),
      body,
      sig: Type.String({ maxLength: 200 }),
    },
    { additionalProperties: false },
  );
const HandshakeRequest = signedRequest(
  Type.Object({ clock: Type.String({ format: 'date-time' }) }, { additionalProperties: false }),
);
const PushRequest = signedRequest(
  Type.Object(
    { items: Type.Array(Type.Unknown(), { minItems: 1, maxItems: MAX_PUSH_ITEMS }) },
    { additionalProperties: false },
  ),
);
const PullQuery = Type.Object({ cursor: Type.Optional(Type.String({ maxLength: 600 })) });
const PULL_PAGE = 500;
/** How long a certificate lives (renewed while the agent is online), and a provisional credential at most. */
const CERTIFICATE_LIFETIME_MS = 24 * 3_600_000;
const MAX_PROVISIONAL_VALIDITY_HOURS = 72;

interface PullCursor {
  /** The last credential change sent: its place in commit order (a transaction id) and its id. */
  c: string | null;
  i: string | null;
  /** The last revocation-list entry sent: its place in commit order and its serial. */
  r: string | null;
  s?: string | null;
}
const encodeCursor = (c: PullCursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decodeCursor(raw: string | undefined): PullCursor {
  if (!raw) return { c: null, i: null, r: null };
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as PullCursor;
    const change = (x: unknown) => x === null || (typeof x === 'string' && /^\d{1,20}$/.test(x));
    const text = (x: unknown) => x === null || x === undefined || (typeof x === 'string' && x.length <= 200);
    if (change(c.c) && change(c.r) && text(c.i) && text(c.s)) return c;
  } catch {
    // Falls through to the refusal.
  }
  throw new LockError('LOCK.VALIDATION', 'cursor: not one this service gave');
}

export function syncRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  /**
   * Verifies a signed agent request; the agent as enrolled. `revokedToo`: a revoked agent's request is
   * verified and returned (the caller answers it with what a revoked desk must know); otherwise refused, 403.
   */
  async function agentOf(m: AgentMessage | unknown, name: string, revokedToo = false): Promise<PushingAgent> {
    const msg = m as AgentMessage;
    if (msg.name !== name) throw new LockError('LOCK.UNAUTHENTICATED', `not a ${name} request`);
    const identity = await p.desktopAgents.identity(msg.agentId);
    const r = verifyMessage(JSON.stringify(msg), {
      // The message names its own subject: what is checked is who signed it, and when.
      subject: `${p.desktopRoot}.${msg.propertyId}.${msg.agentId}.evt.${name}`,
      agent: identity,
      now: p.clock.now(),
      revokedToo,
    });
    if (!r.ok)
      throw new LockError(
        r.refusal === 'REVOKED_AGENT' ? 'LOCK.FORBIDDEN' : 'LOCK.UNAUTHENTICATED',
        `${r.refusal}: ${r.reason}`,
      );
    if (!identity) throw new LockError('LOCK.UNAUTHENTICATED', 'no such agent');
    return { agentId: msg.agentId, ...identity };
  }

  return async (app) => {
    app.post(
      '/sync/v1/handshake',
      {
        schema: {
          tags: ['desktop sync'],
          summary: "A desk agent's handshake: an offline-issuance certificate, signed by the service",
          security: [],
          body: HandshakeRequest,
          response: {
            200: Type.Object({
              certificate: Type.Record(Type.String(), Type.Unknown()),
              servicePublicKey: Type.String(),
              serverTime: Type.String(),
              clockSkewMs: Type.Integer(),
              cardFormat: Type.Union([
                Type.Object({ format: Type.String(), facilityCode: Type.Integer() }),
                Type.Null(),
              ]),
            }),
            ...problemResponses(401, 403, 429),
          },
        },
      },
      async (req) => {
        const m = req.body;
        const agent = await agentOf(m, 'handshake');
        const now = p.clock.now();
        const certificate = await issueCertificate(p.offline.signer, {
          tenantId: agent.tenantId,
          propertyId: agent.propertyId,
          agentId: agent.agentId,
          agentKey: agent.publicKey,
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
        const property = await p.readModel.property(agent.tenantId, agent.propertyId);
        const wiegand = property?.vendorAdapters['generic-wiegand']?.config;
        const facilityCode = Number(wiegand?.facilityCode);
        return {
          certificate: certificate as unknown as Record<string, unknown>,
          servicePublicKey: await p.offline.signer.publicKeyPem(),
          serverTime: now.toISOString(),
          clockSkewMs: Date.parse(m.body.clock) - now.getTime(),
          cardFormat:
            typeof wiegand?.format === 'string' && Number.isSafeInteger(facilityCode)
              ? { format: wiegand.format, facilityCode }
              : null,
        };
      },
    );

    app.get(
      '/sync/v1/pull',
      {
        schema: {
          tags: ['desktop sync'],
          summary: "A desk's mirror of the property's credentials, and the certificate revocation list",
          security: [],
          querystring: PullQuery,
          headers: Type.Object({ 'x-lock-agent-request': Type.String({ maxLength: 4000 }) }),
          response: {
            200: Type.Object({
              cursor: Type.String(),
              more: Type.Boolean(),
              credentials: Type.Array(Type.Record(Type.String(), Type.Unknown())),
              crl: Type.Array(
                Type.Object({
                  serial: Type.String(),
                  agentId: Type.String(),
                  reason: Type.String(),
                  at: Type.String(),
                }),
              ),
            }),
            ...problemResponses(400, 401, 403),
          },
        },
      },
      async (req) => {
        let m: unknown;
        try {
          m = JSON.parse(Buffer.from(req.headers['x-lock-agent-request'], 'base64url').toString('utf8'));
        } catch {
          throw new LockError('LOCK.UNAUTHENTICATED', 'x-lock-agent-request: not a signed request');
        }
        const agent = await agentOf(m, 'pull');
        const signedCursor = (m as AgentMessage<{ cursor?: unknown }>).body.cursor ?? null;
        if (signedCursor !== (req.query.cursor ?? null))
          throw new LockError('LOCK.UNAUTHENTICATED', 'the signed request names another cursor');
        const cursor = decodeCursor(req.query.cursor);
        const rows = await p.readModel.credentialChanges(agent.tenantId, agent.propertyId, {
          after: cursor.c ? { change: cursor.c, id: cursor.i ?? '' } : null,
          limit: PULL_PAGE + 1,
        });
        const more = rows.length > PULL_PAGE;
        const page = rows.slice(0, PULL_PAGE);
        const crl = (
          await p.offline.certificates.crlSince(
            agent.tenantId,
            agent.propertyId,
            cursor.r ? { change: cursor.r, serial: cursor.s ?? '' } : null,
          )
        ).serials;
        const last = page.at(-1);
        const lastCrl = crl.at(-1);
        const next: PullCursor = {
          c: last ? last.change : cursor.c,
          i: last ? last.id : cursor.i,
          r: lastCrl ? lastCrl.change : cursor.r,
          s: lastCrl ? lastCrl.serial : (cursor.s ?? null),
        };
        return {
          cursor: encodeCursor(next),
          more: more || crl.length === CRL_PAGE,
          credentials: page as unknown as Record<string, unknown>[],
          crl: crl.map(({ change: _, ...entry }) => entry),
        };
      },
    );

    app.post(
      '/sync/v1/push',
      {
        schema: {
          tags: ['desktop sync'],
          summary: "A desk's provisional credentials, issued offline, to reconcile",
          security: [],
          body: PushRequest,
          response: {
            200: Type.Object({
              results: Type.Array(
                Type.Object({
                  id: Type.Union([Type.String(), Type.Null()]),
                  outcome: Type.Union([
                    Type.Literal('accepted'),
                    Type.Literal('accepted_with_changes'),
                    Type.Literal('rejected'),
                  ]),
                  reason: Type.Optional(Type.String()),
                  changes: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
                  status: Type.Optional(Type.String()),
                  retry: Type.Optional(Type.Boolean()),
                }),
              ),
            }),
            ...problemResponses(400, 401, 403),
          },
        },
      },
      async (req) => {
        // A revoked desk is heard: each of its records is answered rejected (and recorded), never dropped.
        const agent = await agentOf(req.body, 'push', true);
        const results = await p.offline.reconciler.push(agent, req.body.body.items);
        req.log.info(
          {
            agentId: agent.agentId,
            items: results.length,
            rejected: results.filter((r) => r.outcome === 'rejected').length,
          },
          'provisional credentials reconciled',
        );
        return { results };
      },
    );
  };
}
