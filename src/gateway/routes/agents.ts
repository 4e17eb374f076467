/**
 * Desktop agents (`docs/desktop-agent.md`), all `lock:admin`:
 * - `POST /properties/:id/agents` `{name, publicKey}` enrols an agent whose Ed25519 key was made on the desk
 *   (`lock:cli agent enroll` does both); `GET /properties/:id/agents`, `GET /agents/:id`;
 * - `POST /agents/:id/revoke` `{reason}`: no command is sent to it from then on, and its messages are refused
 *   (within a second everywhere); its offline-issuance certificates go on the revocation list;
 * - `GET /properties/:id/provisional-issuances?outcome=` the cards desks issued offline and what reconciliation
 *   said of each (rejected ones written at a desk: take the card back, or remove its number at the controller);
 * - `POST /agents/:id/certificates/:serial/revoke` `{reason}`: one certificate on the revocation list (the
 *   agent stays enrolled and gets a new one at its next handshake);
 * - `POST /properties/:id/generic-wiegand/locks` `{roomId, areas?}`: the desk's "register lock" flow (the
 *   migration plan §4.1), a generic-wiegand door with a synthetic reference (its reader has no cloud id).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { DesktopAgent } from '../../desktop/agents.ts';
import { LockError } from '../../errors.ts';
import { natsUserOf } from '../../desktop/natsAccounts.ts';
import { principalRef } from '../auth.ts';
import type { GatewayPorts } from '../ports.ts';
import { Id, IdParams, LockDevice, problemResponses } from '../schemas.ts';
import { registerDevice } from './lockDevices.ts';

const Agent = Type.Object({
  id: Type.String(),
  propertyId: Type.String(),
  name: Type.String(),
  publicKey: Type.String(),
  status: Type.String(),
  subjects: Type.Object({ commands: Type.String(), events: Type.String() }),
  /** Its NATS nkey user: the device key signs in (`lock:cli agent nats-accounts` writes the accounts). */
  natsUser: Type.String(),
  createdAt: Type.String(),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  revokedReason: Type.Union([Type.String(), Type.Null()]),
});
const EnrollBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9 _.-]+$' }),
    publicKey: Type.String({
      pattern: '^[A-Za-z0-9+/]{43}=$',
      description: "the agent's Ed25519 public key, raw 32 bytes in base64",
    }),
  },
  { additionalProperties: false },
);
const RevokeBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
const RegisterLockBody = Type.Object(
  { roomId: Id, areas: Type.Optional(Type.Array(Id, { maxItems: 20 })) },
  { additionalProperties: false },
);
const problems = problemResponses(400, 401, 403, 404, 409);
const admin = { scope: 'lock:admin' } as const;

export function agentRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  const root = p.desktopRoot;
  const withSubjects = (a: DesktopAgent) => ({
    ...a,
    natsUser: natsUserOf(a.publicKey),
    subjects: {
      commands: `${root}.${a.propertyId}.${a.id}.cmd.>`,
      events: `${root}.${a.propertyId}.${a.id}.evt.>`,
    },
  });
  const property = async (tenantId: string, id: string) => {
    const found = await p.readModel.property(tenantId, id);
    if (!found) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${id}`);
    return found;
  };

  return async (app) => {
    app.post(
      '/properties/:id/agents',
      {
        config: admin,
        schema: {
          tags: ['desktop agents'],
          params: IdParams,
          body: EnrollBody,
          response: { 201: Agent, ...problems },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        await property(tenantId, req.params.id);
        const a = await p.desktopAgents.enroll(
          tenantId,
          { propertyId: req.params.id, name: req.body.name, publicKey: req.body.publicKey },
          principalRef(req.principal),
        );
        req.log.info({ agentId: a.id, propertyId: a.propertyId }, 'desktop agent enrolled');
        return reply.code(201).send(withSubjects(a));
      },
    );

    app.get(
      '/properties/:id/agents',
      {
        config: admin,
        schema: {
          tags: ['desktop agents'],
          params: IdParams,
          response: { 200: Type.Object({ items: Type.Array(Agent) }), ...problems },
        },
      },
      async (req) => {
        await property(req.principal.tenantId, req.params.id);
        return {
          items: (await p.desktopAgents.list(req.principal.tenantId, req.params.id)).map(withSubjects),
        };
      },
    );

    app.get(
      '/agents/:id',
      {
        config: admin,
        schema: { tags: ['desktop agents'], params: IdParams, response: { 200: Agent, ...problems } },
      },
      async (req) => {
        const a = await p.desktopAgents.get(req.principal.tenantId, req.params.id);
        if (!a) throw new LockError('LOCK.NOT_FOUND', `agent ${req.params.id}`);
        return withSubjects(a);
      },
    );

    app.post(
      '/agents/:id/revoke',
      {
        config: admin,
        schema: {
          tags: ['desktop agents'],
          params: IdParams,
          body: RevokeBody,
          response: { 200: Agent, ...problems },
        },
      },
      async (req) => {
        const a = await p.desktopAgents.revoke(
          req.principal.tenantId,
          req.params.id,
          req.body.reason,
          principalRef(req.principal),
        );
        req.log.info({ agentId: a.id }, 'desktop agent revoked');
        return withSubjects(a);
      },
    );

    app.get(
      '/properties/:id/provisional-issuances',
      {
        config: admin,
        schema: {
          tags: ['desktop agents'],
          params: IdParams,
          querystring: Type.Object({
            outcome: Type.Optional(
              Type.Union([
                Type.Literal('accepted'),
                Type.Literal('accepted_with_changes'),
                Type.Literal('rejected'),
              ]),
            ),
          }),
          response: {
            200: Type.Object({ items: Type.Array(Type.Record(Type.String(), Type.Unknown())) }),
            ...problems,
          },
        },
      },
      async (req) => ({
        items: (await p.offline.reconciler.list(
          req.principal.tenantId,
          req.params.id,
          req.query.outcome,
        )) as unknown as Record<string, unknown>[],
      }),
    );

    app.post(
      '/agents/:id/certificates/:serial/revoke',
      {
        config: admin,
        schema: {
          tags: ['desktop agents'],
          params: Type.Object({
            id: Type.String({ maxLength: 64 }),
            serial: Type.String({ maxLength: 64 }),
          }),
          body: RevokeBody,
          response: {
            200: Type.Object({ serial: Type.String(), agentId: Type.String(), revoked: Type.Literal(true) }),
            ...problems,
          },
        },
      },
      async (req) => {
        const { tenantId } = req.principal;
        const { id, serial } = req.params;
        const c = await p.offline.certificates.status(tenantId, serial);
        if (!c || c.agentId !== id)
          throw new LockError('LOCK.NOT_FOUND', `certificate ${serial} of agent ${id}`);
        // Revoking one already revoked is the same answer (a retry).
        await p.offline.certificates.revoke(tenantId, serial, req.body.reason);
        req.log.info({ agentId: id, serial }, 'offline-issuance certificate revoked');
        return { serial, agentId: id, revoked: true as const };
      },
    );

    app.post(
      '/properties/:id/generic-wiegand/locks',
      {
        config: admin,
        schema: {
          tags: ['desktop agents'],
          summary:
            "The desk's register-lock flow: a generic-wiegand door of a room, with a synthetic reference",
          params: IdParams,
          body: RegisterLockBody,
          response: { 201: LockDevice, ...problems },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        await property(tenantId, req.params.id);
        const id = randomUUID();
        const n = await registerDevice(
          p,
          req.principal,
          id,
          {
            propertyId: req.params.id,
            roomId: req.body.roomId,
            vendor: 'generic-wiegand',
            vendorDeviceRef: `wg-${randomUUID()}`,
            areas: req.body.areas ?? [],
          },
          p.waitBudgetMs,
        );
        const view = n ? await p.readModel.device(tenantId, id) : null;
        if (!view)
          throw new LockError('LOCK.UNAVAILABLE', 'the lock was not registered in time; look it up by room');
        return reply.code(201).send(view);
      },
    );
  };
}
