/** Shared by the crash tests: a property with one TTLock lock per room, and many confirmed reservations. */
import { randomUUID } from 'node:crypto';
import type { ServiceSettings } from '../../src/service.ts';
import type { Client } from './client.ts';
import { seedProperty } from './fixtures.ts';
import { testSettings } from './harness.ts';
import { stayDates } from './stay.ts';

/** Short lease, ack wait and effect claim, so a dead process's work is taken over within seconds. */
export function takeoverSettings(id: string, ttlockUrl: string): ServiceSettings {
  return testSettings(id, ttlockUrl, {
    leaseTtlMs: 1500,
    ackWaitMs: 2000,
    effectClaimMs: 1500,
    sweepEveryMs: 300,
  });
}

/** Rooms 101… on the simulator's locks 7001…; returns the property. */
export async function seedRooms(client: Client, tenantId: string, count: number): Promise<string> {
  const rooms: Record<string, string> = {};
  for (let i = 0; i < count; i++) rooms[String(101 + i)] = String(7001 + i);
  return (await seedProperty(client, tenantId, rooms)).propertyId;
}

/** Publishes `count` confirmed reservations, one room each, round-robin over `rooms` rooms; `res-<from>`… */
export async function confirmReservations(
  client: Client,
  tenantId: string,
  propertyId: string,
  count: number,
  rooms: number,
  from = 0,
): Promise<void> {
  const subject = `${client.topology.platformRoot}.reservation.confirmed.v1`;
  // A stay still ahead: fixed dates would have the service expire each credential at issue once passed.
  const stay = stayDates();
  await Promise.all(
    Array.from({ length: count }, (_, k) => {
      const i = from + k;
      const eventId = randomUUID();
      return client.js.publish(
        subject,
        JSON.stringify({
          eventId,
          tenantId,
          propertyId,
          reservationId: `res-${i}`,
          guestRef: `guest-${i}`,
          rooms: [String(101 + (i % rooms))],
          checkIn: stay.checkIn,
          checkOut: stay.checkOut,
        }),
        { msgID: eventId },
      );
    }),
  );
}
