/**
 * POST /api/v1/key-credentials/:id/pin-reads: the PINs vendors chose anew after the issue (a room moved onto
 * a vendor that chooses PINs, announced by the credential's `updated` event as `newPins`), read once.
 * Only the caller that issued the credential reads them; a credential the service derived (a reservation's,
 * a shift's) has no REST issuer and is read only with a `lock:admin` token (the platform's own service). A
 * read that names an Idempotency-Key may be asked again by the same caller with that key (its answer was
 * lost); any other read after the first answers 410.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { LockError } from '../../errors.ts';
import { claimPinReads } from '../../issuance/pinReads.ts';
import { pinEntry } from '../../io/vendors/registry.ts';
import { principalRef } from '../auth.ts';
import type { GatewayPorts } from '../ports.ts';
import { IdParams, PinRead, problemResponses } from '../schemas.ts';

/** What the read model's grants say of a vendor-chosen PIN (fields outside the REST schema). */
interface GrantPin {
  roomId: string;
  lockDeviceId: string;
  vendor: string;
  vendorSecret?: string;
  pinRef?: string;
  newPin?: boolean;
}

export function pinReadRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/key-credentials/:id/pin-reads',
      {
        config: { scope: 'lock:issue' },
        schema: {
          tags: ['key credentials'],
          summary: 'Read, once, the PINs vendors chose anew after the issue (a room moved to a new lock)',
          params: IdParams,
          headers: Type.Object({
            'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          }),
          response: {
            201: PinRead,
            ...problemResponses(403, 404, 409, 410),
          },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        const view = await p.readModel.credential(tenantId, req.params.id);
        if (!view) throw new LockError('LOCK.NOT_FOUND', `key credential ${req.params.id}`);
        const caller = principalRef(req.principal);
        if (view.issuedBy ? view.issuedBy !== caller : !req.principal.scopes.has('lock:admin'))
          throw new LockError(
            'LOCK.FORBIDDEN',
            view.issuedBy
              ? 'only the caller that issued the credential reads its PIN'
              : "this credential was derived by the service: its PIN is read with the platform's lock:admin token",
          );
        // Only PINs a lock holds now (the projection marks them): not one on a grant being replaced or closed.
        const fresh = (view.grants as GrantPin[]).filter((g) => g.newPin && g.pinRef && g.vendorSecret);
        if (fresh.length === 0)
          throw new LockError(
            'LOCK.NO_NEW_PIN',
            `no lock of credential ${view.id} holds a PIN its vendor chose after the issue`,
          );
        // Opened before the read is spent: a PIN that cannot be opened is not used up.
        const opened = fresh.map((g) => ({
          ref: g.pinRef as string,
          door: {
            roomId: g.roomId,
            lockDeviceId: g.lockDeviceId,
            pin: p.secrets.open(g.vendorSecret as string),
          },
        }));
        const key = req.headers['idempotency-key'];
        const mine = await claimPinReads(
          p.runtimeDb,
          tenantId,
          view.id,
          opened.map((o) => o.ref),
          { by: caller, key: key || null },
        );
        if (mine.size === 0)
          throw new LockError(
            'LOCK.PIN_ALREADY_READ',
            `the new PIN of credential ${view.id} was read already`,
          );
        const pins = opened.filter((o) => mine.has(o.ref)).map((o) => o.door);
        const entry = pinEntry(fresh[0]?.vendor ?? '');
        req.log.info({ credentialId: view.id, doors: pins.length }, 'new PIN read by its issuer');
        return reply.code(201).send({ credentialId: view.id, pins, ...(entry ? { pinEntry: entry } : {}) });
      },
    );
  };
}
