/**
 * Issue contexts (the property and the rooms' locks) are read in batches: requests of different tenants
 * that share a round trip must each be read under their own tenant.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Db, withUser } from '../../src/io/db/index.ts';
import { createReadModel } from '../../src/readModel/readModel.ts';
import { seedProperty } from '../support/fixtures.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('issue contexts read together', () => {
  let h: Harness;
  let runtime: Db;
  const a = `t-${randomUUID().slice(0, 8)}`;
  const b = `t-${randomUUID().slice(0, 8)}`;
  let seededA: Awaited<ReturnType<typeof seedProperty>>;
  let seededB: Awaited<ReturnType<typeof seedProperty>>;

  beforeAll(async () => {
    h = await startHarness();
    runtime = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 2 });
    seededA = await seedProperty(h.service, a, { '101': '7001', '102': '7002' });
    seededB = await seedProperty(h.service, b, { '101': '7003' });
  });
  afterAll(async () => {
    await runtime?.destroy();
    await h?.close();
  });

  it("issue contexts: each request of a shared batch sees its own tenant's property and locks, never another's", async () => {
    const model = createReadModel(runtime);
    // Asked in the same tick: they go to PostgreSQL as one batch.
    const [ownA, ownB, bAsksA, aAsksB, unknownRoom] = await Promise.all([
      model.issueContext(a, seededA.propertyId, ['101', '102']),
      model.issueContext(b, seededB.propertyId, ['101']),
      model.issueContext(b, seededA.propertyId, ['101', '102']),
      model.issueContext(a, seededB.propertyId, ['101']),
      model.issueContext(a, seededA.propertyId, ['999']),
    ]);
    expect(ownA.property?.id).toBe(seededA.propertyId);
    expect(ownA.devices.map((d) => [d.roomId, d.id]).sort()).toEqual([
      ['101', seededA.devices['101']],
      ['102', seededA.devices['102']],
    ]);
    expect(ownB.property?.id).toBe(seededB.propertyId);
    expect(ownB.devices.map((d) => d.id)).toEqual([seededB.devices['101']]);
    expect(bAsksA).toEqual({ property: null, devices: [] });
    expect(aAsksB).toEqual({ property: null, devices: [] });
    expect(unknownRoom.property?.id).toBe(seededA.propertyId);
    expect(unknownRoom.devices).toEqual([]);
  });
});
