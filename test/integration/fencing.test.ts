/**
 * Fencing: a commit carrying a partition's previous fencing token (a process that lost its lease but does
 * not know it yet) is refused and writes nothing; the current token commits.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorEnvelope, ActorHost } from '../../src/actors/index.ts';
import { createCommitBatcher } from '../../src/actors/commitBatcher.ts';
import { partitionOf } from '../../src/actors/partitioning.ts';
import { systemClock } from '../../src/ids.ts';
import { connect, type Db } from '../../src/io/db/index.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

describe('fencing', () => {
  let h: Harness;
  let admin: Db;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness();
    admin = connect(h.databaseUrl, { max: 1 });
  });
  afterAll(async () => {
    await admin?.destroy();
    await h?.close();
  });

  async function decide(id: string, fence: bigint) {
    const host = new ActorHost({ runtimeDb: h.service.runtimeDb, clock: systemClock, eventsRoot: 'x' });
    const partition = partitionOf('property', id, h.settings.partitions);
    const outcome = await host.decide(
      { type: 'property', id, partition },
      {
        tenantId,
        event: {
          type: 'property.create',
          at: new Date().toISOString(),
          name: 'Fenced',
          timezone: 'UTC',
        } as ActorEnvelope['event'],
      },
      1,
      `msg-${id}`,
      fence,
      'epoch-1',
    );
    if (outcome.kind !== 'commit') throw new Error(`expected a commit, got ${outcome.kind}`);
    return outcome.commit;
  }

  async function currentFence(partition: number): Promise<bigint> {
    return eventually(async () => {
      const r = await admin
        .selectFrom('partition_fences')
        .select('fence')
        .where('partition', '=', partition)
        .executeTakeFirst();
      return r ? BigInt(r.fence) : undefined;
    });
  }

  it('fencing: a write with a stale fencing token is refused and changes nothing; the current one commits', async () => {
    const batcher = createCommitBatcher(h.service.runtimeDb);
    const stale = randomUUID();
    const fence = await currentFence(partitionOf('property', stale, h.settings.partitions));
    await expect(batcher.commit(await decide(stale, fence - 1n))).rejects.toMatchObject({
      code: 'LOCK.FENCED',
    });
    const none = await admin
      .selectFrom('actor_snapshots')
      .select('actor_id')
      .where('actor_id', '=', stale)
      .execute();
    expect(none).toEqual([]);

    const fresh = randomUUID();
    const freshFence = await currentFence(partitionOf('property', fresh, h.settings.partitions));
    await batcher.commit(await decide(fresh, freshFence));
    const written = await admin
      .selectFrom('actor_snapshots')
      .select(['actor_id', 'version'])
      .where('actor_id', '=', fresh)
      .execute();
    expect(written).toEqual([{ actor_id: fresh, version: '1' }]);
  });
});
