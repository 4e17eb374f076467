/**
 * Scenario: a member of staff with a master key on 200 locks is deactivated. Measures from the publish of
 * `iam.user.deactivated.v1` until the master key is `revoked` in the read model — which it becomes only
 * once the vendor has confirmed the revoke on every lock — once on a quiet service, and once with ordinary
 * issuance queued ahead of it (the priority lane's case: its revokes jump the per-vendor queues).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { shiftCredentialId } from '../src/ids.ts';
import type { BenchEnvironment } from './environment.ts';

const HOUR = 3_600_000;

export async function deactivation(env: BenchEnvironment, tenantId: string, area: string, backlog: number) {
  return {
    quiet: await once(env, tenantId, area, 0),
    withBacklog: { backlog, ...(await once(env, tenantId, area, backlog)) },
  };
}

async function once(env: BenchEnvironment, tenantId: string, area: string, backlog: number) {
  const { service } = env;
  const root = service.topology.platformRoot;
  const publish = (name: string, body: Record<string, unknown>) =>
    service.js.publish(`${root}.${name}`, JSON.stringify(body), { msgID: String(body.eventId) });
  const staffId = `staff-${randomUUID().slice(0, 8)}`;
  const shiftId = `shift-${randomUUID().slice(0, 8)}`;
  const keyId = shiftCredentialId(tenantId, shiftId, 'pin');
  await publish('staff.shift.started.v1', {
    eventId: randomUUID(),
    tenantId,
    propertyId: env.propertyId,
    staffId,
    shiftId,
    areas: [area],
    startsAt: new Date(Date.now() - HOUR).toISOString(),
    endsAt: new Date(Date.now() + 8 * HOUR).toISOString(),
  });
  const status = async () =>
    (
      await sql<{ status: string; locks: number }>`
        select status, jsonb_array_length(grants) as locks from key_credentials where id = ${keyId}`.execute(
        env.admin,
      )
    ).rows[0];
  const deadline = performance.now() + 300_000;
  let key = await status();
  while (key?.status !== 'active') {
    if (performance.now() > deadline) throw new Error(`master key not active: ${key?.status}`);
    await new Promise((r) => setTimeout(r, 50));
    key = await status();
  }
  // Ordinary work queued ahead: reservations on the same locks, published just before.
  await Promise.all(
    Array.from({ length: backlog }, (_, i) => {
      const eventId = randomUUID();
      return publish('reservation.confirmed.v1', {
        eventId,
        tenantId,
        propertyId: env.propertyId,
        reservationId: `deact-${shiftId}-${i}`,
        guestRef: `guest-${i}`,
        rooms: [env.roomIds[i % env.roomIds.length]],
        checkIn: '2026-12-01T14:00:00.000Z',
        checkOut: '2026-12-03T11:00:00.000Z',
      });
    }),
  );
  const started = performance.now();
  await publish('iam.user.deactivated.v1', { eventId: randomUUID(), tenantId, userId: staffId });
  while ((await status())?.status !== 'revoked') {
    if (performance.now() > deadline) throw new Error('master key not revoked in time');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { locks: key.locks, msToLastRevoke: Math.round(performance.now() - started) };
}
