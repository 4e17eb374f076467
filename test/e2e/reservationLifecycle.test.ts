/**
 * End to end on real NATS, PostgreSQL and the TTLock simulator: a confirmed reservation gives an active
 * PIN on each room's lock and exactly one `issued` event; check-out revokes it at the vendor.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reservationCredentialId } from '../../src/ids.ts';
import { seedProperty } from '../support/fixtures.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

// Run once with resident actors and once passivating after every message: activation must be lossless.
describe.each([{ passivateEachMessage: false }, { passivateEachMessage: true }])(
  'reservation lifecycle (passivate each message: $passivateEachMessage)',
  ({ passivateEachMessage }) => {
    let h: Harness;
    const tenantId = `tenant-${randomUUID().slice(0, 8)}`;

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
      const checkIn = '2026-12-01T14:00:00.000Z';
      const checkOut = '2026-12-03T11:00:00.000Z';
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
        checkIn: '2026-12-10T14:00:00.000Z',
        checkOut: '2026-12-12T11:00:00.000Z',
      });
      const id = reservationCredentialId(tenantId, reservationId, 'pin');
      await eventually(async () =>
        (await h.service.readModel.credential(tenantId, id))?.status === 'active' ? true : undefined,
      );
      await publishPlatform('reservation.dates_changed.v1', {
        ...base,
        eventId: randomUUID(),
        checkIn: '2026-12-10T14:00:00.000Z',
        checkOut: '2026-12-14T11:00:00.000Z',
      });
      const updated = await eventually(async () => {
        const c = await h.service.readModel.credential(tenantId, id);
        return c?.status === 'active' && c.validUntil === '2026-12-14T11:00:00.000Z' ? c : undefined;
      });
      const atVendor = h.ttlock.state().credentials.filter((c) => c.lockRef === '7009');
      expect(atVendor).toHaveLength(1);
      expect(atVendor[0]).toMatchObject({
        ref: (updated.grants[0] as { vendorRef?: string } | undefined)?.vendorRef,
        validUntil: '2026-12-14T11:00:00.000Z',
      });
      const updatedSubject = `${h.service.topology.eventsRoot}.key_credential.updated.v1`;
      await eventually(
        async () => ((await eventsOn(updatedSubject)) === 1 ? true : undefined),
        10_000,
        'updated event',
      );
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
        checkIn: '2026-12-01T14:00:00.000Z',
        checkOut: '2026-12-02T11:00:00.000Z',
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
