/** /api/v1/lock-devices: register, read, list. */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { adapterStatus } from '../../machines/index.ts';
import { LockError } from '../../errors.ts';
import { uuidV5 } from '../../ids.ts';
import { type StoredResponse, logStoreFailure, sendStored, withIdempotency } from '../idempotency.ts';
import { type Principal, principalRef } from '../auth.ts';
import type { GatewayPorts } from '../ports.ts';
import {
  CreateLockDevice,
  Id,
  IdParams,
  ListQuery,
  LockDevice,
  pageOf,
  Vendor,
  problemResponses,
} from '../schemas.ts';

/**
 * An imported lock's room: the number its vendor name ends with ("Room 101" → "101"), as hotels name
 * their locks; otherwise the name made id-safe, otherwise the vendor's reference.
 */
export function roomIdFromLockName(name: string, ref: string): string {
  const number = /(\d+)\s*$/.exec(name)?.[1];
  if (number) return number;
  const safe = name
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 128);
  return safe || ref.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 128);
}

interface DeviceRegistration {
  propertyId: string;
  roomId: string;
  vendor: string;
  vendorDeviceRef: string;
  areas: string[];
}

/** Sends the device actor its registration and waits for it to commit (null when the wait runs out). */
export function registerDevice(
  p: GatewayPorts,
  principal: Principal,
  id: string,
  d: DeviceRegistration,
  waitMs: number,
) {
  const event = { type: 'lockDevice.register', at: p.clock.now().toISOString(), ...d };
  return p.mailbox.sendAndWait(
    { type: 'lockDevice', id },
    { tenantId: principal.tenantId, event, by: principalRef(principal) },
    `${id}:register`,
    (n) => n.version >= 1,
    waitMs,
  );
}

const plain = { seal: (r: StoredResponse) => r, open: (r: StoredResponse) => r };
const problems = problemResponses(400, 401, 404, 409);

export function lockDeviceRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/lock-devices',
      {
        config: { scope: 'lock:admin' },
        schema: {
          tags: ['lock devices'],
          body: CreateLockDevice,
          response: { 201: LockDevice, ...problems },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        const b = req.body;
        const key = req.headers['idempotency-key'] as string | undefined;
        const r = await withIdempotency(
          p.runtimeDb,
          tenantId,
          'POST /lock-devices',
          key,
          b,
          async () => {
            const property = await p.readModel.property(tenantId, b.propertyId);
            if (!property) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${b.propertyId}`);
            const id = key ? uuidV5(`lockDevice:${tenantId}:${key}`) : randomUUID();
            // Registered under this key already: a retry whose first answer was lost (its process died before
            // storing it) gets that device, as it is; a key pruned and used again for another device, 422.
            const mine = key ? await p.readModel.device(tenantId, id) : null;
            if (mine) {
              const same =
                mine.propertyId === b.propertyId &&
                mine.roomId === b.roomId &&
                mine.vendor === b.vendor &&
                mine.vendorDeviceRef === b.vendorDeviceRef;
              if (!same) throw new LockError('LOCK.IDEMPOTENCY_KEY_REUSED');
              return { status: 201, body: mine as unknown as Record<string, unknown> };
            }
            const existing = await p.readModel.devices(tenantId, { propertyId: b.propertyId, limit: 1000 });
            if (
              existing.items.some(
                (d) =>
                  d.vendor === b.vendor &&
                  d.vendorDeviceRef === b.vendorDeviceRef &&
                  d.status !== 'decommissioned',
              )
            )
              throw new LockError(
                'LOCK.CONFLICT',
                `${b.vendor} device ${b.vendorDeviceRef} is already registered`,
              );
            await registerDevice(
              p,
              req.principal,
              id,
              {
                propertyId: b.propertyId,
                roomId: b.roomId,
                vendor: b.vendor,
                vendorDeviceRef: b.vendorDeviceRef,
                areas: b.areas ?? [],
              },
              p.waitBudgetMs,
            );
            const view = await p.readModel.device(tenantId, id);
            if (!view)
              throw new LockError(
                'LOCK.UNAVAILABLE',
                'the device was not registered in time; retry with the same Idempotency-Key',
              );
            return { status: 201, body: view as unknown as Record<string, unknown> };
          },
          { seal: plain, claimMs: p.idempotencyClaimMs, onStoreFailed: logStoreFailure(req.log) },
        );
        return sendStored(reply, r);
      },
    );

    app.post(
      '/lock-devices/bulk-import',
      {
        config: { scope: 'lock:admin' },
        schema: {
          tags: ['lock devices'],
          querystring: Type.Object({ propertyId: Id, vendor: Vendor }, { additionalProperties: false }),
          response: {
            200: Type.Object({ imported: Type.Integer(), skipped: Type.Integer() }),
            ...problems,
          },
        },
      },
      async (req) => {
        const { tenantId } = req.principal;
        const { propertyId, vendor } = req.query;
        const property = await p.readModel.property(tenantId, propertyId);
        if (!property) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${propertyId}`);
        const setting = Object.hasOwn(property.vendorAdapters, vendor)
          ? property.vendorAdapters[vendor]
          : undefined;
        if (!setting || adapterStatus(setting.status) === 'disabled')
          throw new LockError(
            'LOCK.VENDOR_NOT_ENABLED',
            `${vendor} is not enabled for property ${propertyId}`,
          );
        const locks = await p.vendorLocks(tenantId, propertyId, vendor);
        const known = new Set(
          (await p.readModel.devices(tenantId, { propertyId, limit: 10_000 })).items
            .filter((d) => d.vendor === vendor && d.status !== 'decommissioned')
            .map((d) => d.vendorDeviceRef),
        );
        const fresh = locks.filter((l) => !known.has(l.ref));
        // Ids from (tenant, property, vendor, ref): importing again, or concurrently, registers nothing twice.
        const registered = await Promise.all(
          fresh.map((l) =>
            registerDevice(
              p,
              req.principal,
              uuidV5(`lockDevice:${tenantId}:${propertyId}:${vendor}:${l.ref}`),
              {
                propertyId,
                roomId: roomIdFromLockName(l.name, l.ref),
                vendor,
                vendorDeviceRef: l.ref,
                areas: [],
              },
              p.waitBudgetMs * 5,
            ),
          ),
        );
        if (registered.some((n) => n === null))
          throw new LockError('LOCK.UNAVAILABLE', 'some devices were not registered in time; import again');
        return { imported: fresh.length, skipped: locks.length - fresh.length };
      },
    );

    app.get(
      '/lock-devices/:id',
      {
        config: { scope: 'lock:read' },
        schema: { tags: ['lock devices'], params: IdParams, response: { 200: LockDevice, ...problems } },
      },
      async (req) => {
        const d = await p.readModel.device(req.principal.tenantId, req.params.id);
        if (!d) throw new LockError('LOCK.NOT_FOUND', `lock device ${req.params.id}`);
        return d;
      },
    );

    app.get(
      '/lock-devices',
      {
        config: { scope: 'lock:read' },
        schema: {
          tags: ['lock devices'],
          querystring: Type.Object({
            propertyId: Type.Optional(Type.String({ maxLength: 128 })),
            roomId: Type.Optional(Type.String({ maxLength: 128 })),
            status: Type.Optional(Type.String({ maxLength: 32 })),
            ...ListQuery,
          }),
          response: { 200: pageOf(LockDevice), ...problems },
        },
      },
      async (req) =>
        p.readModel.devices(req.principal.tenantId, { ...req.query, limit: req.query.limit ?? 100 }),
    );
  };
}
