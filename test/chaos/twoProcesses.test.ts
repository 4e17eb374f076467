/**
 * Two runtime processes share the partitions through the lease bucket. Killing one (`kill -9`), the other
 * takes its partitions over once their leases expire and finishes the credentials that were in flight.
 */
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTtlockSimulator, type TtlockSimulator } from '../../src/io/vendors/ttlock/index.ts';
import type { ServiceSettings } from '../../src/service.ts';
import { type Client, connectClient } from '../support/client.ts';
import { dropDatabase, dropNats, eventually, uniqueId } from '../support/harness.ts';
import { type RuntimeProcess, spawnRuntime } from '../support/processes.ts';
import { confirmReservations, seedRooms, takeoverSettings } from '../support/reservations.ts';

const ROOMS = 30;
const RESERVATIONS = 300;

describe('two runtime processes', () => {
  const tenantId = `tenant-${uniqueId()}`;
  let ttlock: TtlockSimulator;
  let settings: ServiceSettings;
  let client: Client;
  let a: RuntimeProcess | undefined;
  let b: RuntimeProcess | undefined;

  beforeAll(async () => {
    ttlock = await startTtlockSimulator({ lockCount: ROOMS });
    settings = takeoverSettings(uniqueId(), ttlock.url);
    a = await spawnRuntime(settings, 'pair-a');
    b = await spawnRuntime(settings, 'pair-b');
    client = await connectClient(settings);
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await client?.close();
    await ttlock?.close();
    await dropNats(settings.prefix);
    await dropDatabase(settings.databaseUrl);
  });

  async function owners(): Promise<Record<string, number>> {
    const kv = await new Kvm(client.nc).open(client.topology.leaseBucket);
    const count: Record<string, number> = {};
    for (let p = 0; p < settings.partitions; p++) {
      const e = await kv.get(`p.${p}`);
      const owner = e && e.operation === 'PUT' ? e.string() : 'none';
      count[owner] = (count[owner] ?? 0) + 1;
    }
    return count;
  }

  it('takeover: both own partitions; after one is killed the other owns all and finishes its credentials', async () => {
    const shared = await eventually(
      async () => {
        const o = await owners();
        return (o['pair-a'] ?? 0) > 0 && (o['pair-b'] ?? 0) > 0 && !o.none ? o : undefined;
      },
      20_000,
      'both processes owning partitions',
    );
    expect((shared['pair-a'] ?? 0) + (shared['pair-b'] ?? 0)).toBe(settings.partitions);

    const propertyId = await seedRooms(client, tenantId, ROOMS);
    await confirmReservations(client, tenantId, propertyId, RESERVATIONS, ROOMS);
    await eventually(
      async () => ((await client.statusCounts()).active ?? 0) >= 30 || undefined,
      30_000,
      'issuance under way',
    );
    await a?.kill9();
    a = undefined;

    const counts = await eventually(
      async () => {
        const c = await client.statusCounts();
        return c.active === RESERVATIONS ? c : undefined;
      },
      60_000,
      'all credentials active',
    );
    expect(counts).toEqual({ active: RESERVATIONS });
    expect(await owners()).toEqual({ 'pair-b': settings.partitions });
    expect(ttlock.state().credentials).toHaveLength(RESERVATIONS);
    const issued = await client.eventsOn(`${client.topology.eventsRoot}.key_credential.issued.v1`);
    expect(new Set(issued.map((e) => e.aggregateId)).size).toBe(RESERVATIONS);
    expect(issued).toHaveLength(RESERVATIONS);
  });
});
