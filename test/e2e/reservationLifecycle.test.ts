/**
 * End to end on real NATS, PostgreSQL and the TTLock simulator: a confirmed reservation gives an active
 * PIN on each room's lock and exactly one `issued` event; check-out revokes it at the vendor.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { reservationActorId, reservationCredentialId } from '../../src/ids.ts';
import { withTenant } from '../../src/io/db/index.ts';
import { seedProperty } from '../support/fixtures.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

// Run once with resident actors and once passivating after every message: activation must be lossless.
describe.each([{ passivateEachMessage: false }, { passivateEachMessage: true }])(
  'reservation lifecycle (passivate each message: $passivateEachMessage)',
  ({ passivateEachMessage }) => {
    let h: Harness;
    const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
    // Stays ahead of now: fixed dates would have the service expire each credential at issue once passed.
    // The later stay checks in nine days after the first, for two nights, then extended to four.
    const stay = stayDates();
    const later = { checkIn: stay.day(9, 14), checkOut: stay.day(11, 11), extended: stay.day(13, 11) };

    beforeAll(async () => {
      h = await startHarness({ passivateEachMessage });
    });
    afterAll(async () => {
      await h?.close();
    });

    async function publishPlatform(name: string, body: Record<string, unknown>) {
      await h.service.js.publish(`${h.service.topology.platformRoot}.${name}`, JSON.stringify(body), {
        msgID: String(body.eventId),
      });
    }

    async function eventsOn(subject: string) {
      const jsm = h.service.jsm;
      const info = await jsm.streams.info(h.service.topology.eventsStream, { subjects_filter: subject });
      return info.state.subjects?.[subject] ?? 0;
    }

    it('reservation: confirmed issues one passcode per room lock, checked_out revokes them', async () => {
      const { propertyId } = await seedProperty(h.service, tenantId, { '101': '7001', '102': '7002' });
      const reservationId = `res-${randomUUID().slice(0, 8)}`;
      const { checkIn, checkOut } = stay;
      const confirmed = {
        eventId: randomUUID(),
        tenantId,
        propertyId,
        reservationId,
        guestRef: 'guest-1',
        rooms: ['101', '102'],
        checkIn,
        checkOut,
      };
      await publishPlatform('reservation.confirmed.v1', confirmed);
      // A duplicated delivery of the same event (another id) must not create a second credential.
      await publishPlatform('reservation.confirmed.v1', { ...confirmed, eventId: randomUUID() });

      const id = reservationCredentialId(tenantId, reservationId, 'pin');
      const active = await eventually(async () => {
        const c = await h.service.readModel.credential(tenantId, id);
        return c?.status === 'active' ? c : undefined;
      });
      expect(active.grants).toHaveLength(2);

      const sim = h.ttlock.state();
      expect(sim.credentials.filter((c) => c.lockRef === '7001')).toHaveLength(1);
      expect(sim.credentials.filter((c) => c.lockRef === '7002')).toHaveLength(1);
      for (const c of sim.credentials) {
        expect(c.validFrom).toBe(checkIn);
        expect(c.validUntil).toBe(checkOut);
      }
      const issuedSubject = `${h.service.topology.eventsRoot}.key_credential.issued.v1`;
      await eventually(
        async () => ((await eventsOn(issuedSubject)) === 1 ? true : undefined),
        10_000,
        'issued event',
      );

      const list = await h.service.readModel.credentials(tenantId, { reservationId, limit: 10 });
      expect(list.items.map((c) => c.id)).toEqual([id]);

      await publishPlatform('reservation.checked_out.v1', {
        eventId: randomUUID(),
        tenantId,
        propertyId,
        reservationId,
      });
      await eventually(async () => {
        const c = await h.service.readModel.credential(tenantId, id);
        return c?.status === 'revoked' ? c : undefined;
      });
      expect(h.ttlock.state().credentials).toHaveLength(0);
      const revokedSubject = `${h.service.topology.eventsRoot}.key_credential.revoked.v1`;
      await eventually(
        async () => ((await eventsOn(revokedSubject)) === 1 ? true : undefined),
        10_000,
        'revoked event',
      );
      expect(await eventsOn(issuedSubject)).toBe(1);
    });

    it('reservation: dates_changed moves every passcode of the reservation in place, with one updated event', async () => {
      const { propertyId } = await seedProperty(h.service, tenantId, { '401': '7009' });
      const reservationId = `res-${randomUUID().slice(0, 8)}`;
      const base = { tenantId, propertyId, reservationId };
      await publishPlatform('reservation.confirmed.v1', {
        ...base,
        eventId: randomUUID(),
        guestRef: 'guest-3',
        rooms: ['401'],
        checkIn: later.checkIn,
        checkOut: later.checkOut,
      });
      const id = reservationCredentialId(tenantId, reservationId, 'pin');
      await eventually(async () =>
        (await h.service.readModel.credential(tenantId, id))?.status === 'active' ? true : undefined,
      );
      await publishPlatform('reservation.dates_changed.v1', {
        ...base,
        eventId: randomUUID(),
        checkIn: later.checkIn,
        checkOut: later.extended,
      });
      const updated = await eventually(async () => {
        const c = await h.service.readModel.credential(tenantId, id);
        return c?.status === 'active' && c.validUntil === later.extended ? c : undefined;
      });
      const atVendor = h.ttlock.state().credentials.filter((c) => c.lockRef === '7009');
      expect(atVendor).toHaveLength(1);
      expect(atVendor[0]).toMatchObject({
        ref: (updated.grants[0] as { vendorRef?: string } | undefined)?.vendorRef,
        validUntil: later.extended,
      });
      const updatedSubject = `${h.service.topology.eventsRoot}.key_credential.updated.v1`;
      await eventually(
        async () => ((await eventsOn(updatedSubject)) === 1 ? true : undefined),
        10_000,
        'updated event',
      );
    });

    it('reservation: rooms_changed issues on the new room, then revokes the old; the guest keeps the PIN', async () => {
      const { propertyId } = await seedProperty(h.service, tenantId, { '701': '7006', '702': '7007' });
      const reservationId = `res-${randomUUID().slice(0, 8)}`;
      const base = { tenantId, propertyId, reservationId };
      await publishPlatform('reservation.confirmed.v1', {
        ...base,
        eventId: randomUUID(),
        guestRef: 'guest-moving',
        rooms: ['701'],
        checkIn: later.checkIn,
        checkOut: later.checkOut,
      });
      const id = reservationCredentialId(tenantId, reservationId, 'pin');
      await eventually(async () =>
        (await h.service.readModel.credential(tenantId, id))?.status === 'active' ? true : undefined,
      );
      const before = h.ttlock.state().credentials.filter((c) => c.lockRef === '7006');
      expect(before).toHaveLength(1);
      await publishPlatform('reservation.rooms_changed.v1', {
        ...base,
        eventId: randomUUID(),
        rooms: ['702'],
      });
      const moved = await eventually(async () => {
        const c = await h.service.readModel.credential(tenantId, id);
        return c?.status === 'active' && c.grants.length === 1 && c.rooms[0] === '702' ? c : undefined;
      });
      expect(moved.grants.map((g) => (g as { lockDeviceId: string }).lockDeviceId)).toHaveLength(1);
      expect(h.ttlock.state().credentials.filter((c) => c.lockRef === '7006')).toEqual([]);
      const after = h.ttlock.state().credentials.filter((c) => c.lockRef === '7007');
      expect(after.map((c) => c.pin)).toEqual([before[0]?.pin]);
    });

    it('reservation: an imported stay issues only when its check-in is still ahead; one already begun is only recorded', async () => {
      const { propertyId } = await seedProperty(h.service, tenantId, { '501': '7010' });
      const imported = (reservationId: string, checkIn: string) =>
        publishPlatform('reservation.imported.v1', {
          eventId: randomUUID(),
          tenantId,
          propertyId,
          reservationId,
          guestRef: 'guest-imported',
          rooms: ['501'],
          checkIn,
          checkOut: new Date(Date.now() + 2 * 86_400_000).toISOString(),
        });
      const begun = `res-${randomUUID().slice(0, 8)}`;
      const ahead = `res-${randomUUID().slice(0, 8)}`;
      await imported(begun, new Date(Date.now() - 86_400_000).toISOString());
      await imported(ahead, new Date(Date.now() + 86_400_000).toISOString());
      const aheadId = reservationCredentialId(tenantId, ahead, 'pin');
      await eventually(async () =>
        (await h.service.readModel.credential(tenantId, aheadId))?.status === 'active' ? true : undefined,
      );
      // The begun stay's reservation is recorded (its end will reach what an operator issues for it) …
      await eventually(async () => {
        const r = await withTenant(h.service.runtimeDb, tenantId, (tx) =>
          sql<{ value: string }>`
            select snapshot->>'value' as value from actor_snapshots
             where actor_type = 'reservation' and actor_id = ${reservationActorId(tenantId, begun)}`.execute(
            tx,
          ),
        );
        return r.rows[0]?.value === 'confirmed' ? true : undefined;
      });
      // … and no key is issued for it.
      expect(
        await h.service.readModel.credential(tenantId, reservationCredentialId(tenantId, begun, 'pin')),
      ).toBeNull();
      expect(h.ttlock.state().credentials.filter((c) => c.lockRef === '7010')).toHaveLength(1);
    });

    it('reservation: a room without a lock ends failed with NO_LOCK_FOR_ROOM and a failed event', async () => {
      const { propertyId } = await seedProperty(h.service, tenantId, { '201': '7003' });
      const reservationId = `res-${randomUUID().slice(0, 8)}`;
      await publishPlatform('reservation.confirmed.v1', {
        eventId: randomUUID(),
        tenantId,
        propertyId,
        reservationId,
        guestRef: 'guest-2',
        rooms: ['299'],
        checkIn: stay.checkIn,
        checkOut: stay.nights(1),
      });
      const id = reservationCredentialId(tenantId, reservationId, 'pin');
      const failed = await eventually(async () => {
        const c = await h.service.readModel.credential(tenantId, id);
        return c?.status === 'failed' ? c : undefined;
      });
      expect(failed.failure).toMatchObject({ code: 'NO_LOCK_FOR_ROOM' });
    });
  },
);
