/**
 * Scenario 1: event-driven issuance. Publishes `reservation.confirmed.v1` for N reservations (one room
 * each, rooms round-robin) and measures from the first publish until every credential is active in the
 * read model (which is written in the same transaction as the actor's snapshot). Each progress sample also
 * has the actor transitions committed so far (`committed`, the group commit's own count): the work done,
 * where `active` counts only credentials that have been through all three of theirs (the reservation's,
 * the credential's issue, its settle), so a flat `committed` beside a slow first `active` is the pipeline
 * filling, not a slow start.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { cpuShare } from './cpuShare.ts';
import type { BenchEnvironment } from './environment.ts';

export async function eventIssuance(env: BenchEnvironment, tenantId: string, n: number) {
  const { service } = env;
  const subject = `${service.topology.platformRoot}.reservation.confirmed.v1`;
  const committed = async () =>
    (await service.metrics.commitBatch.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  const committedBefore = await committed();
  const cpu = cpuShare();
  const started = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    const eventId = randomUUID();
    const p = service.js.publish(
      subject,
      JSON.stringify({
        eventId,
        tenantId,
        propertyId: env.propertyId,
        reservationId: `bench-${i}`,
        guestRef: `guest-${i}`,
        rooms: [env.roomIds[i % env.roomIds.length]],
        checkIn: '2026-12-01T14:00:00.000Z',
        checkOut: '2026-12-03T11:00:00.000Z',
      }),
      { msgID: eventId },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size >= 1000) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const publishedSeconds = (performance.now() - started) / 1000;

  // Progress is sampled, not awaited per credential: the bench must not add load to the hot path.
  const samples: { seconds: number; active: number; committed: number }[] = [];
  for (;;) {
    const row = await sql<{ active: string; failed: string }>`
      select count(*) filter (where status = 'active') as active,
             count(*) filter (where status = 'failed') as failed
        from key_credentials`.execute(env.admin);
    const active = Number(row.rows[0]?.active ?? 0);
    const failed = Number(row.rows[0]?.failed ?? 0);
    samples.push({
      seconds: (performance.now() - started) / 1000,
      active,
      committed: (await committed()) - committedBefore,
    });
    if (active + failed >= n) {
      const seconds = (performance.now() - started) / 1000;
      return {
        credentials: n,
        failed,
        cpuPerCredential: cpu.stop(n),
        publishedSeconds: round(publishedSeconds),
        seconds: round(seconds),
        perSecond: Math.round(n / seconds),
        progress: samples.filter((_, i) => i % 4 === 0).map((s) => ({ ...s, seconds: round(s.seconds) })),
      };
    }
    if (performance.now() - started > 600_000) throw new Error(`only ${active} of ${n} active after 10 min`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
