/**
 * Crash safety of a vendor call run in its actor's turn, with a real process: the runtime is `kill -9`ed after
 * TTLock made the passcode and before the credential's commit recorded it (the simulator holds its answer
 * back). Nothing of the credential is in PostgreSQL then: what brings it back is its sender's record, the
 * reservation's message row, which only that commit would have released. A new process sends the message
 * again; its call looks up first and finds the passcode. Afterwards the credential is active, the lock holds
 * exactly one passcode and it is the one the credential records, the `issued` event is in the stream once, and
 * the audit chain verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verifyChain.ts';
import { startTtlockSimulator, type TtlockSimulator } from '../../src/io/vendors/ttlock/index.ts';
import type { ServiceSettings } from '../../src/service.ts';
import { type Client, connectClient } from '../support/client.ts';
import { dropDatabase, dropNats, eventually, uniqueId } from '../support/harness.ts';
import { type RuntimeProcess, spawnRuntime } from '../support/processes.ts';
import { confirmReservations, seedRooms, takeoverSettings } from '../support/reservations.ts';

describe('crash safety: kill -9 between a vendor call in the turn and its commit', () => {
  const tenantId = `tenant-${uniqueId()}`;
  let ttlock: TtlockSimulator;
  let settings: ServiceSettings;
  let client: Client;
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    ttlock = await startTtlockSimulator({ lockCount: 1 });
    // The kill, not a vendor timeout, ends the call under test; the claim on its message (renewed while the call
    // runs) lapses soon after the kill.
    settings = {
      ...takeoverSettings(uniqueId(), ttlock.url),
      effectTimeoutMs: 120_000,
      effectClaimMs: 5000,
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
  const vendorRefs = (c: { grants: unknown }) =>
    (c.grants as { vendorRef: string }[]).map((g) => g.vendorRef);

  it('crash: the passcode made before the kill is the credential the new process records, once', async () => {
    const propertyId = await seedRooms(client, tenantId, 1);
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
});
