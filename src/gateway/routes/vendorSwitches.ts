/**
 * /api/v1 vendor switches (the migration plan's §3, `docs/cutover.md`): plan a switch of a property's locks
 * from one vendor to another, drive its phases, cut rooms over one by one. All `lock:admin`.
 *
 * The switch actor decides; this reads for it what it cannot see (a room's live credentials, the credentials
 * left on the old vendor) and refuses, with the reason, what would change nothing: a second switch on a
 * property, a room outside the switch, a lock the new vendor does not list, an advance while blockers remain.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { buildSwitchPlan, type PlanRoomInput, SwitchPlanFile } from '../../cutover/switchPlan.ts';
import { LockError } from '../../errors.ts';
import { VendorError } from '../../io/vendors/port.ts';
import { uuidV5 } from '../../ids.ts';
import {
  adapterStatus,
  type CredentialEvent,
  type KeyKind,
  type VendorSwitchContext,
} from '../../machines/index.ts';
import { type Principal, principalRef } from '../auth.ts';
import type { GatewayPorts } from '../ports.ts';
import { Id, problemResponses } from '../schemas.ts';

const KeyKindSchema = Type.Union([Type.Literal('pin'), Type.Literal('mobile_key'), Type.Literal('card')]);
const Vendor = Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z][a-z0-9-]*$' });

const CreateSwitch = Type.Object(
  {
    from: Vendor,
    to: Vendor,
    kinds: Type.Optional(Type.Array(KeyKindSchema, { minItems: 1, maxItems: 3 })),
    pilotRoom: Type.Optional(Id),
  },
  { additionalProperties: false },
);
const PlanBody = Type.Object(
  {
    from: Vendor,
    to: Vendor,
    kinds: Type.Optional(Type.Array(KeyKindSchema, { minItems: 1, maxItems: 3 })),
    pilotRoom: Type.Optional(Id),
    startDate: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' })),
    roomsPerDay: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
const CutoverBody = Type.Object(
  { vendorDeviceRef: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
const AbortBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);
const SwitchView = Type.Object({
  id: Type.String(),
  propertyId: Type.String(),
  from: Type.String(),
  to: Type.String(),
  kinds: Type.Array(Type.String()),
  pilotRoom: Type.Union([Type.String(), Type.Null()]),
  phase: Type.String(),
  rooms: Type.Object({ total: Type.Integer(), cutover: Type.Integer() }),
  roomList: Type.Array(
    Type.Object({
      roomId: Type.String(),
      oldDeviceId: Type.String(),
      newDeviceId: Type.Union([Type.String(), Type.Null()]),
      cutoverAt: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  credentials: Type.Object({ moved: Type.Integer(), legacyLive: Type.Integer() }),
  blockers: Type.Array(Type.String()),
  secrets: Type.Optional(
    Type.Object(
      {
        revokedAtVendor: Type.Array(Type.String()),
        destroyed: Type.Array(Type.String()),
        rotateAtVendor: Type.Array(Type.String()),
        webhookRemoved: Type.Boolean(),
      },
      {
        description:
          "Decommission: the old vendor's secrets revoked at the vendor where it allows, destroyed here, and those only the " +
          "vendor can rotate (the operator's task); whether its webhook endpoint was removed.",
      },
    ),
  ),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const SwitchParams = Type.Object({ id: Id });
const AdvanceQuery = Type.Object(
  {
    skipVendorRevocation: Type.Optional(
      Type.Boolean({
        description:
          'Decommission: go on when the old vendor cannot revoke our access (it stays listed in ' +
          '`secrets.rotateAtVendor` for the operator).',
      }),
    ),
  },
  { additionalProperties: false },
);
const problems = problemResponses(400, 401, 403, 404, 409, 422);
const admin = { scope: 'lock:admin' } as const;
/** The most credentials one room's cutover moves (its message's limit). */
const MAX_MOVES_PER_ROOM = 10_000;

export function vendorSwitchRoutes(p: GatewayPorts): FastifyPluginAsyncTypebox {
  async function load(tenantId: string, id: string) {
    const s = await p.readModel.vendorSwitch(tenantId, id);
    if (!s) throw new LockError('LOCK.NOT_FOUND', `vendor switch ${id}`);
    return s;
  }

  /** What stands in the way of the next phase. */
  function blockersOf(phase: string, c: VendorSwitchContext, legacyLive: number): string[] {
    if (phase === 'cutover') {
      const left = c.rooms.filter((r) => r.newDeviceId === null).map((r) => r.roomId);
      return left.length > 0 ? [`rooms not cut over: ${left.join(', ')}`] : [];
    }
    if (phase === 'draining' && legacyLive > 0)
      return [`${legacyLive} live credential(s) still on ${c.from}: they end at check-out or revoke`];
    return [];
  }

  async function view(tenantId: string, id: string) {
    const { phase, context: c } = await load(tenantId, id);
    const legacyLive = await p.readModel.liveCredentialsOnVendor(tenantId, c.propertyId, c.from);
    return {
      id: c.id,
      propertyId: c.propertyId,
      from: c.from,
      to: c.to,
      kinds: c.kinds,
      pilotRoom: c.pilotRoom,
      phase,
      rooms: { total: c.rooms.length, cutover: c.rooms.filter((r) => r.newDeviceId !== null).length },
      roomList: c.rooms,
      credentials: { moved: c.moved, legacyLive },
      blockers: blockersOf(phase, c, legacyLive),
      ...(c.secrets ? { secrets: c.secrets } : {}),
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
    };
  }

  /**
   * Sends to the switch and waits for its commit. A message the switch ignores (a repeat after a crash: the
   * room was cut over by the first) commits nothing, so the caller checks the outcome it wanted instead.
   */
  async function tell(
    principal: Principal,
    id: string,
    event: { type: string; at: string },
    done: () => Promise<boolean>,
  ) {
    const committed = await sendCommitted(principal, { type: 'vendorSwitch', id }, event, p.waitBudgetMs * 4);
    if (!committed && !(await done()))
      throw new LockError('LOCK.UNAVAILABLE', 'the vendor switch did not answer in time; try again');
  }
  /** Sends to an actor and waits for the commit of this message; false when none came in time. */
  async function sendCommitted(
    principal: Principal,
    to: { type: 'vendorSwitch' | 'property'; id: string },
    event: { type: string; at: string },
    timeoutMs: number,
  ): Promise<boolean> {
    const msgId = randomUUID();
    const n = await p.mailbox.sendAndWait(
      to,
      { tenantId: principal.tenantId, event, by: principalRef(principal) },
      msgId,
      (x) => x.msgId === msgId,
      timeoutMs,
    );
    return n !== null;
  }
  /**
   * Decommission, in steps each safe to run again (an advance after a crash anywhere does the rest, and two
   * advances at once agree):
   * 1. the old vendor revokes what it lets a partner revoke (`retireAccess`: a Salto KS refresh token);
   * 2. what is to be destroyed is recorded in the switch (`vendorSwitch.retiring`; the first record holds,
   *    and it is written before anything is destroyed, so the report stays true after a crash);
   * 3. every version of the old vendor's secrets is destroyed and its webhook endpoint removed;
   * 4. `vendorSwitch.retired` completes the switch.
   * A vendor out of reach keeps the switch decommissioning (503, try again), unless the operator says to go on
   * without (`skipVendorRevocation`): the secret is then listed for the operator to rotate at the vendor.
   */
  async function retireOldVendor(
    principal: Principal,
    c: VendorSwitchContext,
    skipVendorRevocation: boolean,
  ) {
    const { tenantId } = principal;
    const address = { tenantId, propertyId: c.propertyId, vendor: c.from };
    if (!c.secrets) {
      const config =
        (await p.readModel.property(tenantId, c.propertyId))?.vendorAdapters[c.from]?.config ?? {};
      const nameOf = (field: string) => String(config[field]).slice('secret:'.length);
      const referenced = Object.entries(config)
        .filter(([, v]) => typeof v === 'string' && v.startsWith('secret:'))
        .map(([f]) => nameOf(f));
      let revokedFields: string[] = [];
      try {
        revokedFields = await p.retireVendorAccess(tenantId, c.propertyId, c.from);
      } catch (e) {
        // Refused (AUTH: nothing of ours works there any more), or its secrets gone already.
        const nothingToRevoke =
          (e instanceof VendorError && e.failure === 'AUTH') ||
          (e instanceof LockError && e.code === 'LOCK.VENDOR_NOT_ENABLED');
        if (!nothingToRevoke && !skipVendorRevocation)
          throw new LockError(
            'LOCK.VENDOR_UNAVAILABLE',
            `${c.from} could not revoke our access before its secrets are destroyed ` +
              `(${String(e).slice(0, 200)}); try again, or advance with skipVendorRevocation`,
          );
      }
      const revokedAtVendor = [...new Set(revokedFields.map(nameOf))].sort();
      const held = await p.vendorSecrets.inventory(address);
      await tell(
        principal,
        c.id,
        {
          type: 'vendorSwitch.retiring',
          at: p.clock.now().toISOString(),
          revokedAtVendor,
          destroyed: held.names,
          // The vendor's own credentials only it can rotate (API keys, passwords): named for the operator.
          rotateAtVendor: [...new Set(referenced)].filter((n) => !revokedAtVendor.includes(n)).sort(),
          webhookRemoved: held.webhook,
        } as { type: string; at: string },
        async () => !!(await p.readModel.vendorSwitch(tenantId, c.id))?.context.secrets,
      );
    }
    await p.vendorSecrets.destroyAll(address, principalRef(principal));
    await tell(
      principal,
      c.id,
      { type: 'vendorSwitch.retired', at: p.clock.now().toISOString() },
      async () => (await phaseOf(tenantId, c.id)) === 'completed',
    );
  }
  const phaseOf = async (tenantId: string, id: string) =>
    (await p.readModel.vendorSwitch(tenantId, id))?.phase;

  /**
   * Credentials still on the old lock of rooms already cut over (issued between the cutover's read and the
   * old lock's decommission): told to move too. A move is idempotent: one already under way changes nothing.
   */
  async function moveStragglers(principal: Principal, c: VendorSwitchContext) {
    const cut = new Map(c.rooms.filter((r) => r.newDeviceId).map((r) => [r.oldDeviceId, r]));
    if (cut.size === 0) return;
    // One read for every room: the grants still on the old vendor, kept where their lock was replaced.
    const onOldLocks = (
      await p.readModel.liveGrantsOnVendor(principal.tenantId, c.propertyId, c.from)
    ).filter((g) => cut.has(g.lockDeviceId));
    const at = p.clock.now().toISOString();
    for (const { credentialId, lockDeviceId } of onOldLocks) {
      const room = cut.get(lockDeviceId);
      if (!room?.newDeviceId) continue;
      // The new lock as the switch recorded it: its device may not be in the read model yet.
      const vendorDeviceRef =
        room.newDeviceRef ??
        (await p.readModel.device(principal.tenantId, room.newDeviceId))?.vendorDeviceRef;
      if (!vendorDeviceRef) continue;
      const move: CredentialEvent = {
        type: 'credential.moveRoom',
        at,
        roomId: room.roomId,
        from: room.oldDeviceId,
        target: { roomId: room.roomId, lockDeviceId: room.newDeviceId, vendor: c.to, vendorDeviceRef },
      };
      await p.mailbox.send(
        { type: 'credential', id: credentialId },
        { tenantId: principal.tenantId, by: principalRef(principal), event: move },
        // Once per pass: a move given up (move_failed) is tried again on a later pass.
        `switch:${c.id}:straggler:${room.roomId}:${credentialId}:${at}`,
      );
    }
  }

  /** The property's active locks on `vendor`, by room. */
  async function oldRooms(tenantId: string, propertyId: string, vendor: string) {
    const rooms: { roomId: string; oldDeviceId: string }[] = [];
    for (let cursor: string | undefined; ;) {
      const page = await p.readModel.devices(tenantId, {
        propertyId,
        status: 'active',
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      for (const d of page.items)
        if (d.vendor === vendor) rooms.push({ roomId: d.roomId, oldDeviceId: d.id });
      if (!page.nextCursor) return rooms;
      cursor = page.nextCursor;
    }
  }

  /**
   * Takes the property for the switch `id`, or refuses (409) naming the switch that has it. A claim whose
   * switch never came to be (the process died between the claim and the plan) is let go after a minute.
   */
  async function claimProperty(principal: Principal, propertyId: string, id: string) {
    const { tenantId } = principal;
    for (let attempt = 0; attempt < 3; attempt++) {
      const running = await p.readModel.propertySwitch(tenantId, propertyId);
      if (running?.id === id) return;
      if (running) {
        // Let go: a switch that ended (its own release may still be on its way), or one that never came to
        // be (the process died between the claim and the plan) after a minute.
        const holder = await p.readModel.vendorSwitch(tenantId, running.id);
        const orphan = holder
          ? holder.phase === 'completed' || holder.phase === 'aborted'
          : p.clock.now().getTime() - Date.parse(running.at) > 60_000;
        if (!orphan)
          throw new LockError('LOCK.CONFLICT', `vendor switch ${running.id} is running on this property`);
        await tellProperty(principal, propertyId, {
          type: 'property.releaseSwitch',
          at: p.clock.now().toISOString(),
          switchId: running.id,
        });
        continue;
      }
      // Free as read: the property grants the claim to the first switch that asks.
      await tellProperty(principal, propertyId, {
        type: 'property.claimSwitch',
        at: p.clock.now().toISOString(),
        switchId: id,
      });
    }
    throw new LockError('LOCK.UNAVAILABLE', 'the property did not take the switch in time; try again');
  }

  async function tellProperty(principal: Principal, propertyId: string, event: Record<string, unknown>) {
    // Read back by the caller: the property ignores a claim while another switch holds it.
    await sendCommitted(
      principal,
      { type: 'property', id: propertyId },
      event as { type: string; at: string },
      p.waitBudgetMs,
    );
  }

  /** Active locks of the old vendor the switch does not cover (registered after its plan): draining would strand them. */
  async function outsideTheSwitch(tenantId: string, c: VendorSwitchContext) {
    const known = new Set(c.rooms.map((r) => r.oldDeviceId));
    return (await oldRooms(tenantId, c.propertyId, c.from)).filter((r) => !known.has(r.oldDeviceId));
  }

  return async (app) => {
    app.post(
      '/properties/:id/vendor-switch-plans',
      {
        config: admin,
        schema: {
          tags: ['vendor switches'],
          summary:
            "A switch's plan: rooms on the old vendor, their live credentials, a proposed new lock per room, " +
            'rolling cutover dates and what to look at (nothing is changed)',
          params: SwitchParams,
          body: PlanBody,
          response: { 200: SwitchPlanFile, ...problems },
        },
      },
      async (req) => {
        const { tenantId } = req.principal;
        const b = req.body;
        const property = await p.readModel.property(tenantId, req.params.id);
        if (!property) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${req.params.id}`);
        if (b.from === b.to) throw new LockError('LOCK.VALIDATION', 'from and to are the same vendor');
        if (!Object.hasOwn(property.vendorAdapters, b.to))
          throw new LockError('LOCK.VALIDATION', `the property has no ${b.to} adapter: configure it first`);
        const rooms: PlanRoomInput[] = [];
        for (const r of await oldRooms(tenantId, property.id, b.from)) {
          const credentials = [];
          for (const id of await p.readModel.liveCredentialsOnDevice(tenantId, property.id, r.oldDeviceId)) {
            const c = await p.readModel.credential(tenantId, id);
            if (c)
              credentials.push({
                id,
                holder: c.holder.kind === 'staff' ? ('staff' as const) : ('guest' as const),
                validFrom: c.validFrom,
                validUntil: c.validUntil,
              });
          }
          rooms.push({ ...r, credentials });
        }
        if (rooms.length === 0)
          throw new LockError('LOCK.VALIDATION', `the property has no active ${b.from} lock to switch`);
        if (b.pilotRoom && !rooms.some((r) => r.roomId === b.pilotRoom))
          throw new LockError('LOCK.VALIDATION', `pilot room ${b.pilotRoom} has no ${b.from} lock`);
        const tomorrow = new Date(p.clock.now().getTime() + 86_400_000).toISOString().slice(0, 10);
        return buildSwitchPlan({
          propertyId: property.id,
          from: b.from,
          to: b.to,
          kinds: b.kinds ?? ['pin'],
          pilotRoom: b.pilotRoom ?? null,
          rooms,
          newLocks: (await p.vendorLocks(tenantId, property.id, b.to, { disabledToo: true })).map((l) => ({
            ref: l.ref,
            name: l.name,
          })),
          startDate: b.startDate ?? tomorrow,
          roomsPerDay: b.roomsPerDay ?? 10,
        });
      },
    );

    app.post(
      '/properties/:id/vendor-switches',
      {
        config: admin,
        schema: {
          tags: ['vendor switches'],
          summary: 'Plan a switch of the property from one lock vendor to another',
          params: SwitchParams,
          body: CreateSwitch,
          response: { 201: SwitchView, ...problems },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        const b = req.body;
        const property = await p.readModel.property(tenantId, req.params.id);
        if (!property) throw new LockError('LOCK.PROPERTY_NOT_FOUND', `property ${req.params.id}`);
        if (b.from === b.to) throw new LockError('LOCK.VALIDATION', 'from and to are the same vendor');
        const from = property.vendorAdapters[b.from];
        if (!from || adapterStatus(from.status) === 'disabled')
          throw new LockError(
            'LOCK.VALIDATION',
            `the property has no enabled ${b.from} adapter to switch from`,
          );
        if (!Object.hasOwn(property.vendorAdapters, b.to))
          throw new LockError(
            'LOCK.VALIDATION',
            `the property has no ${b.to} adapter: configure it first (PUT …/vendor-adapters/${b.to})`,
          );
        const rooms = await oldRooms(tenantId, property.id, b.from);
        if (rooms.length > 5000)
          throw new LockError('LOCK.VALIDATION', `${rooms.length} rooms: a switch takes at most 5,000`);
        if (rooms.length === 0)
          throw new LockError('LOCK.VALIDATION', `the property has no active ${b.from} lock to switch`);
        if (b.pilotRoom && !rooms.some((r) => r.roomId === b.pilotRoom))
          throw new LockError('LOCK.VALIDATION', `pilot room ${b.pilotRoom} has no ${b.from} lock`);
        const kinds: KeyKind[] = b.kinds ?? ['pin'];
        const id = randomUUID();
        // One switch per property at a time: the property actor grants the claim to one switch only.
        await claimProperty(req.principal, property.id, id);
        await tell(
          req.principal,
          id,
          {
            type: 'vendorSwitch.plan',
            at: p.clock.now().toISOString(),
            propertyId: property.id,
            from: b.from,
            to: b.to,
            kinds,
            pilotRoom: b.pilotRoom ?? null,
            rooms,
            previousPolicy: property.keyKindPolicy,
            previousStatuses: {
              [b.from]: adapterStatus(from.status),
              [b.to]: adapterStatus(property.vendorAdapters[b.to]?.status ?? 'disabled'),
            },
          } as { type: string; at: string },
          async () => (await phaseOf(tenantId, id)) !== undefined,
        );
        return reply.code(201).send(await view(tenantId, id));
      },
    );

    app.get(
      '/vendor-switches/:id',
      {
        config: admin,
        schema: {
          tags: ['vendor switches'],
          summary: 'Where a vendor switch stands',
          params: SwitchParams,
          response: { 200: SwitchView, ...problems },
        },
      },
      async (req) => view(req.principal.tenantId, req.params.id),
    );

    app.post(
      '/vendor-switches/:id/rooms/:roomId/cutover',
      {
        config: admin,
        schema: {
          tags: ['vendor switches'],
          summary: "A room's new lock is installed: register it and move the room's live credentials to it",
          params: Type.Object({ id: Id, roomId: Id }),
          body: CutoverBody,
          response: { 202: SwitchView, ...problems },
        },
      },
      async (req, reply) => {
        const { tenantId } = req.principal;
        const { phase, context: c } = await load(tenantId, req.params.id);
        const room = c.rooms.find((r) => r.roomId === req.params.roomId);
        if (!room) throw new LockError('LOCK.NOT_FOUND', `room ${req.params.roomId} is not in this switch`);
        if (room.newDeviceId)
          throw new LockError('LOCK.INVALID_STATE', `room ${room.roomId} is cut over already`);
        const pilotNow = phase === 'dualVendor' && c.pilotRoom === room.roomId;
        if (phase !== 'cutover' && !pilotNow)
          throw new LockError(
            'LOCK.INVALID_STATE',
            `rooms are cut over in the cutover phase (this switch is ${phase}; the pilot room in dualVendor)`,
          );
        const listed = await p.vendorLocks(tenantId, c.propertyId, c.to, { disabledToo: true });
        if (!listed.some((l) => l.ref === req.body.vendorDeviceRef))
          throw new LockError(
            'LOCK.VENDOR_NOT_FOUND',
            `${c.to} does not list a lock ${req.body.vendorDeviceRef} for this property`,
          );
        const old = await p.readModel.device(tenantId, room.oldDeviceId);
        const credentialIds = await p.readModel.liveCredentialsOnDevice(
          tenantId,
          c.propertyId,
          room.oldDeviceId,
        );
        if (credentialIds.length > MAX_MOVES_PER_ROOM)
          throw new LockError(
            'LOCK.VALIDATION',
            `room ${room.roomId} has ${credentialIds.length} live credentials; at most ${MAX_MOVES_PER_ROOM} move at once`,
          );
        await tell(
          req.principal,
          c.id,
          {
            type: 'vendorSwitch.roomCutover',
            at: p.clock.now().toISOString(),
            roomId: room.roomId,
            newDevice: {
              // Derived: a repeated request names the same new lock.
              id: uuidV5(`lockDevice:${tenantId}:${c.id}:${room.roomId}`),
              vendorDeviceRef: req.body.vendorDeviceRef,
              areas: old?.areas ?? [],
            },
            credentialIds,
          } as { type: string; at: string },
          async () => {
            const now = await p.readModel.vendorSwitch(tenantId, c.id);
            return !!now?.context.rooms.find((r) => r.roomId === room.roomId)?.newDeviceId;
          },
        );
        // Two requests for the room at once: the first's lock is the room's; the other is told so.
        const cut = (await load(tenantId, c.id)).context.rooms.find((r) => r.roomId === room.roomId);
        if (cut?.newDeviceRef && cut.newDeviceRef !== req.body.vendorDeviceRef)
          throw new LockError(
            'LOCK.INVALID_STATE',
            `room ${room.roomId} was cut over to ${cut.newDeviceRef} by another request`,
          );
        // A credential issued on the old lock while this ran is moved too.
        const after = await load(tenantId, c.id);
        await moveStragglers(req.principal, after.context);
        return reply.code(202).send(await view(tenantId, c.id));
      },
    );

    app.post(
      '/vendor-switches/:id/advance',
      {
        config: admin,
        schema: {
          tags: ['vendor switches'],
          summary: 'The next phase, once its blockers are gone',
          params: SwitchParams,
          querystring: AdvanceQuery,
          response: { 200: SwitchView, ...problems },
        },
      },
      async (req) => {
        const { tenantId } = req.principal;
        const { phase, context: c } = await load(tenantId, req.params.id);
        if (['paused', 'completed', 'aborted'].includes(phase))
          throw new LockError('LOCK.INVALID_STATE', `the switch is ${phase}`);
        // Decommissioning (entered by an earlier advance, perhaps one a crash cut short): retire and complete.
        const skip = req.query.skipVendorRevocation === true;
        if (phase === 'decommissioning') {
          await retireOldVendor(req.principal, c, skip);
          return view(tenantId, c.id);
        }
        if (phase === 'cutover' || phase === 'draining') await moveStragglers(req.principal, c);
        const legacyLive = await p.readModel.liveCredentialsOnVendor(tenantId, c.propertyId, c.from);
        const blockers = blockersOf(phase, c, legacyLive);
        if (phase === 'cutover')
          for (const r of await outsideTheSwitch(tenantId, c))
            blockers.push(
              `room ${r.roomId}'s ${c.from} lock ${r.oldDeviceId} is not in the switch (registered after its plan)`,
            );
        if (blockers.length > 0) throw new LockError('LOCK.INVALID_STATE', blockers.join('; '));
        await tell(
          req.principal,
          c.id,
          { type: 'vendorSwitch.advance', at: p.clock.now().toISOString(), legacyLive } as {
            type: string;
            at: string;
          },
          async () => (await phaseOf(tenantId, c.id)) !== phase,
        );
        // Decommissioning now: what it needs is read again (the switch moved on since the load above).
        const now = await load(tenantId, c.id);
        if (now.phase === 'decommissioning') await retireOldVendor(req.principal, now.context, skip);
        return view(tenantId, c.id);
      },
    );

    for (const action of ['pause', 'resume', 'abort'] as const)
      app.post(
        `/vendor-switches/:id/${action}`,
        {
          config: admin,
          schema: {
            tags: ['vendor switches'],
            summary: `${action[0]?.toUpperCase()}${action.slice(1)} the switch`,
            params: SwitchParams,
            ...(action === 'abort' ? { body: AbortBody } : {}),
            response: { 200: SwitchView, ...problems },
          },
        },
        async (req) => {
          const { tenantId } = req.principal;
          const { phase, context: c } = await load(tenantId, req.params.id);
          const allowed =
            action === 'pause'
              ? !['paused', 'decommissioning', 'completed', 'aborted'].includes(phase)
              : action === 'resume'
                ? phase === 'paused'
                : !['decommissioning', 'completed', 'aborted'].includes(phase);
          if (!allowed) throw new LockError('LOCK.INVALID_STATE', `cannot ${action}: the switch is ${phase}`);
          const reason = (req.body as { reason?: string } | undefined)?.reason ?? 'aborted by an operator';
          await tell(
            req.principal,
            c.id,
            {
              type: `vendorSwitch.${action}`,
              at: p.clock.now().toISOString(),
              ...(action === 'abort' ? { reason } : {}),
            },
            async () => (await phaseOf(tenantId, c.id)) !== phase,
          );
          // Another request moved the switch on meanwhile (an advance into decommissioning): it was not done.
          const after = await phaseOf(tenantId, c.id);
          const done =
            action === 'pause'
              ? after === 'paused'
              : action === 'abort'
                ? after === 'aborted'
                : after !== 'paused';
          if (!done)
            throw new LockError(
              'LOCK.INVALID_STATE',
              `cannot ${action}: the switch is ${after ?? 'gone'} now`,
            );
          return view(tenantId, c.id);
        },
      );
  };
}
