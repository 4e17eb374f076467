/**
 * Crash safety of a vendor call run in its actor's turn, with a real process: the runtime is `kill -9`ed after
 * TTLock made the passcode and before the credential's commit recorded it (the simulator holds its answer
 * back). Nothing of the credential is in PostgreSQL then: what brings it back is its sender's record, the
 * reservation's message row, which only that commit would have released. A new process sends the message
 * again; its call looks up first and finds the passcode. Afterwards the credential is active, the lock holds
 * exactly one passcode and it is the one the credential records, the `issued` event is in the stream once, and
 * the audit chain verifies.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verifyChain.ts';
import { startTtlockSimulator, type TtlockSimulator } from '../../src/io/vendors/ttlock/index.ts';
import type { ServiceSettings } from '../../src/service.ts';
import { type Client, connectClient } from '../support/client.ts';
import { seedProperty } from '../support/fixtures.ts';
import { dropDatabase, dropNats, eventually, uniqueId } from '../support/harness.ts';
import { type RuntimeProcess, spawnRuntime } from '../support/processes.ts';
import { confirmReservations, seedRooms, takeoverSettings } from '../support/reservations.ts';
import { stayDates } from '../support/stay.ts';

describe('crash safety: kill -9 between a vendor call in the turn and its commit', () => {
  const tenantId = `tenant-${uniqueId()}`;
  let ttlock: TtlockSimulator;
  let settings: ServiceSettings;
  let client: Client;
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    ttlock = await startTtlockSimulator({ lockCount: 3 });
    // The kill, not a vendor timeout, ends the call under test; the claim on its message (renewed while the call
    // runs) lapses 12 s after the kill: long enough for the messages that must overtake the resent issue (a
    // new process's start and lease takeover, then two hops) even on a loaded machine.
    settings = {
      ...takeoverSettings(uniqueId(), ttlock.url),
      effectTimeoutMs: 120_000,
      effectClaimMs: 12_000,
      callsInTurn: true,
    };
    runtime = await spawnRuntime(settings, 'in-turn-0');
    client = await connectClient(settings);
  });

  afterAll(async () => {
    await runtime?.stop();
    await client?.close();
    await ttlock?.close();
    await dropNats(settings.prefix);
    await dropDatabase(settings.databaseUrl);
  });

  const credentials = () =>
    client.admin.selectFrom('key_credentials').select(['reservation_id', 'status', 'grants']).execute();
  const activeOf = (reservationId: string) =>
    eventually(
      async () => {
        const c = (await credentials()).find((r) => r.reservation_id === reservationId);
        return c?.status === 'active' ? c : undefined;
      },
      30_000,
      `the credential of ${reservationId} active`,
    );
  /** The events a stay's credential took, in order (its audit entries). */
  const transitionsOf = async (tenant: string, reservationId: string) => {
    const id = (
      await client.admin
        .selectFrom('key_credentials')
        .select('id')
        .where('reservation_id', '=', reservationId)
        .executeTakeFirstOrThrow()
    ).id;
    const { rows } = await sql<{ entry: string }>`
      select entry from audit_log where tenant_id = ${tenant} order by seq`.execute(client.admin);
    return rows
      .map((r) => JSON.parse(r.entry) as { actor: string; event: string })
      .filter((e) => e.actor === `credential/${id}`)
      .map((e) => e.event);
  };
  const vendorRefs = (c: { grants: unknown }) =>
    (c.grants as { vendorRef: string }[]).map((g) => g.vendorRef);

  let propertyId = '';

  /**
   * A property of its own on lock `lockRef` (an earlier one's lock is busy a while after its held answer): a stay
   * `res-<n>` issued by this process first (its clock check of the lock done), then `res-<n+1>`, whose passcode
   * TTLock makes at once and whose answer it holds. The process is killed then, before anything of that
   * credential is recorded, and a new one started as `name`. Answers the property.
   */
  async function killMidIssue(lockRef: string, n: number, name: string): Promise<string> {
    const property = (await seedProperty(client, tenantId, { '101': lockRef })).propertyId;
    await confirmReservations(client, tenantId, property, 1, 1, n);
    await activeOf(`res-${n}`);
    ttlock.setFaults({ gatewayMs: 15_000 });
    await confirmReservations(client, tenantId, property, 1, 1, n + 1);
    await eventually(
      async () => ttlock.state().credentials.filter((c) => c.lockRef === lockRef).length === 2 || undefined,
      10_000,
      'the passcode',
    );
    expect((await credentials()).map((c) => c.reservation_id)).not.toContain(`res-${n + 1}`);
    await runtime?.kill9();
    ttlock.setFaults({ gatewayMs: 0 });
    runtime = await spawnRuntime(settings, name);
    return property;
  }

  it('crash: the passcode made before the kill is the credential the new process records, once', async () => {
    propertyId = await seedRooms(client, tenantId, 1);
    // A first stay on the lock, so this process has checked the lock's clock (a gateway call of its own).
    await confirmReservations(client, tenantId, propertyId, 1, 1, 0);
    const first = await activeOf('res-0');

    // The lock's gateway applies the next passcode at once and answers a minute later.
    ttlock.setFaults({ gatewayMs: 60_000 });
    await confirmReservations(client, tenantId, propertyId, 1, 1, 1);
    await eventually(
      async () => ttlock.state().credentials.length === 2 || undefined,
      20_000,
      'the passcode',
    );
    // The call ran in the credential's turn: nothing of the credential is recorded yet.
    expect((await credentials()).map((c) => c.reservation_id)).toEqual(['res-0']);

    await runtime?.kill9();
    ttlock.setFaults({ gatewayMs: 0 });
    runtime = await spawnRuntime(settings, 'in-turn-1');

    const second = await activeOf('res-1');
    const sim = ttlock.state().credentials;
    expect(sim).toHaveLength(2);
    expect(new Set([...vendorRefs(first), ...vendorRefs(second)])).toEqual(new Set(sim.map((c) => c.ref)));
    const issued = await client.eventsOn(`${client.topology.eventsRoot}.key_credential.issued.v1`);
    expect(issued).toHaveLength(2);
    expect(new Set(issued.map((e) => e.aggregateId)).size).toBe(2);
    expect(await verifyAuditChain(client.admin, tenantId)).toMatchObject({ ok: true });
  });

  // A cancellation overtaking the issue after the crash tombstones the credential; the issue, sent again, then
  // revokes by its operation id what the crashed turn made (it used to be ignored, the passcode orphaned).
  it('crash, then a cancellation overtaking the resent issue: no passcode is left on the lock', async () => {
    const other = await killMidIssue('7002', 2, 'in-turn-2');
    // Cancelled at once: the reservation's revoke reaches the credential before its issue is sent again.
    const eventId = randomUUID();
    await client.js.publish(
      `${client.topology.platformRoot}.reservation.cancelled.v1`,
      JSON.stringify({ eventId, tenantId, propertyId: other, reservationId: 'res-3' }),
      { msgID: eventId },
    );
    // The reservation ended; its credential revoked before it was issued (a tombstone) took the resent issue
    // (past the issue's claim, 12 s) and is a tombstone again, every vendor call answered.
    const tombstone = await eventually(
      async () => {
        const ended = await sql<{ n: number }>`
          select count(*)::int as n from actor_snapshots
           where actor_type = 'reservation' and snapshot->>'value' = 'ended'`.execute(client.admin);
        const swept = await sql<{ id: string; grants: { value: unknown }[] }>`
          select actor_id as id, snapshot->'context'->'grants' as grants from actor_snapshots
           where actor_type = 'credential' and snapshot->>'value' = 'tombstoned'
             and snapshot->'context'->>'reservationId' = 'res-3'`.execute(client.admin);
        const pending = await client.admin.selectFrom('effect_intents').select('id').execute();
        const c = swept.rows[0];
        return (ended.rows[0]?.n ?? 0) === 1 && c && c.grants.length > 0 && pending.length === 0
          ? c
          : undefined;
      },
      30_000,
      'the cancellation and the resent issue applied',
    );
    expect(tombstone.grants.map((g) => g.value)).toEqual(['gone']);
    // It never was: no credential of the stay is listed (a swept tombstone once stayed listed as revoking).
    expect((await credentials()).map((c) => c.reservation_id).sort()).toEqual(['res-0', 'res-1', 'res-2']);
    // The three stays still on keep their passcodes; the cancelled one has none.
    expect(ttlock.state().credentials).toHaveLength(3);
    // Nothing was announced of the credential that never was.
    const published = await client.eventsOn(`${client.topology.eventsRoot}.key_credential.>`);
    expect(published.filter((e) => e.aggregateId === tombstone.id)).toEqual([]);
    expect(await verifyAuditChain(client.admin, tenantId)).toMatchObject({ ok: true });
  });

  // New dates overtaking the issue after the crash wait in the credential; the issue, sent again, is applied as
  // sent (the look-up finds the passcode the crashed turn made) and the new dates follow as a change (they used
  // to be recorded as issued while the lock held the old ones).
  it('crash, then new dates overtaking the resent issue: the lock holds the new dates', async () => {
    const third = await killMidIssue('7003', 4, 'in-turn-3');
    const stay = stayDates();
    const eventId = randomUUID();
    await client.js.publish(
      `${client.topology.platformRoot}.reservation.dates_changed.v1`,
      JSON.stringify({
        eventId,
        tenantId,
        propertyId: third,
        reservationId: 'res-5',
        checkIn: stay.checkIn,
        checkOut: stay.nights(3),
      }),
      { msgID: eventId },
    );
    const credential = await eventually(
      async () => {
        const c = (await credentials()).find((r) => r.reservation_id === 'res-5');
        const pending = await client.admin.selectFrom('effect_intents').select('id').execute();
        return c?.status === 'active' && pending.length === 0 ? c : undefined;
      },
      30_000,
      'the credential of res-5 active, every call answered',
    );
    // The new dates did overtake the resent issue: the credential's first transition took them.
    expect((await transitionsOf(tenantId, 'res-5'))[0]).toBe('credential.update');
    const [ref] = vendorRefs(credential);
    const held = ttlock.state().credentials.filter((c) => c.lockRef === '7003');
    // One passcode each for the two stays on the lock; the crashed turn's carries the new check-out.
    expect(held).toHaveLength(2);
    expect(held.find((c) => c.ref === ref)).toMatchObject({ validUntil: stay.nights(3) });
    expect(await verifyAuditChain(client.admin, tenantId)).toMatchObject({ ok: true });
  });
});
