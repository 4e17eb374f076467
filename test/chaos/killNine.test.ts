/**
 * Crash safety with a real process: 1,000 reservations are confirmed while the runtime process is
 * `kill -9`ed three times and started again. Afterwards every credential is active, the TTLock simulator
 * holds exactly one passcode per grant, each `issued` event is in the stream exactly once, and the audit
 * chain verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verifyChain.ts';
import { startTtlockSimulator, type TtlockSimulator } from '../../src/io/vendors/ttlock/index.ts';
import type { ServiceSettings } from '../../src/service.ts';
import { type Client, connectClient } from '../support/client.ts';
import { dropDatabase, dropNats, eventually, uniqueId } from '../support/harness.ts';
import { type RuntimeProcess, spawnRuntime } from '../support/processes.ts';
import { confirmReservations, seedRooms, takeoverSettings } from '../support/reservations.ts';

const ROOMS = 50;
const RESERVATIONS = 1000;

describe('crash safety: kill -9 during issuance', () => {
  const tenantId = `tenant-${uniqueId()}`;
  let ttlock: TtlockSimulator;
  let settings: ServiceSettings;
  let client: Client;
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    ttlock = await startTtlockSimulator({ lockCount: ROOMS });
    settings = takeoverSettings(uniqueId(), ttlock.url);
    runtime = await spawnRuntime(settings, 'chaos-0');
    client = await connectClient(settings);
  });

  afterAll(async () => {
    await runtime?.stop();
    await client?.close();
    await ttlock?.close();
    await dropNats(settings.prefix);
    await dropDatabase(settings.databaseUrl);
  });

  it('crash: every credential ends active with one passcode per grant, one issued event each, and an intact audit chain', async () => {
    const propertyId = await seedRooms(client, tenantId, ROOMS);
    await confirmReservations(client, tenantId, propertyId, RESERVATIONS, ROOMS);

    // Kill at three points of progress, each time mid-flight, and start a new process.
    for (const [n, atLeast] of [150, 450, 750].entries()) {
      await eventually(
        async () => ((await client.statusCounts()).active ?? 0) >= atLeast || undefined,
        60_000,
        `${atLeast} active`,
      );
      await runtime?.kill9();
      runtime = await spawnRuntime(settings, `chaos-${n + 1}`);
    }

    const counts = await eventually(
      async () => {
        const c = await client.statusCounts();
        return c.active === RESERVATIONS ? c : undefined;
      },
      90_000,
      'all credentials active',
    );
    expect(counts).toEqual({ active: RESERVATIONS });

    // Exactly one passcode per grant at the vendor, and it is the one the credential records.
    const sim = ttlock.state().credentials;
    expect(sim).toHaveLength(RESERVATIONS);
    const rows = await client.admin.selectFrom('key_credentials').select(['id', 'grants']).execute();
    const recorded = rows.flatMap((r) => (r.grants as { vendorRef: string }[]).map((g) => g.vendorRef));
    expect(new Set(recorded).size).toBe(RESERVATIONS);
    expect(new Set(sim.map((c) => c.ref))).toEqual(new Set(recorded));

    // Each issued event exactly once in the stream.
    const issued = await client.eventsOn(`${client.topology.eventsRoot}.key_credential.issued.v1`);
    expect(issued).toHaveLength(RESERVATIONS);
    expect(new Set(issued.map((e) => e.aggregateId)).size).toBe(RESERVATIONS);

    const verdict = await verifyAuditChain(client.admin, tenantId);
    expect(verdict).toMatchObject({ ok: true });
  });
});
