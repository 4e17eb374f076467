/**
 * A lease lost while its partition's worker takes its time to stop (it waits for vendor calls made in its
 * actors' turns) costs no other lease: the ticks go on renewing the rest meanwhile, and the partition is not
 * taken again until its old worker has stopped.
 */
import { Kvm } from '@nats-io/kv';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionLeases } from '../../src/actors/leases.ts';
import { connect, type Db, ensureDatabase, migrateToLatest, withUser } from '../../src/io/db/index.ts';
import { dropDatabase, eventually, NATS_URL, uniqueId } from '../support/harness.ts';

describe('partition leases', () => {
  const id = uniqueId();
  const databaseUrl = `postgres://postgres@127.0.0.1:5432/lock_test_${id}`;
  const bucketName = `leases_${id}`;
  let nc: NatsConnection;
  let db: Db;

  beforeAll(async () => {
    await ensureDatabase(databaseUrl);
    await migrateToLatest(databaseUrl);
    db = connect(withUser(databaseUrl, 'lock_runtime'), { max: 2 });
    nc = await natsConnect({ servers: NATS_URL });
  });
  afterAll(async () => {
    await new Kvm(nc)
      .create(bucketName)
      .then((kv) => kv.destroy())
      .catch(() => {});
    await nc?.close();
    await db?.destroy();
    await dropDatabase(databaseUrl);
  });

  it('lost: a slow stop of one partition holds no other renewal, and the partition waits for it', async () => {
    const ttlMs = 3000;
    const kv = await new Kvm(nc).create(bucketName, { ttl: ttlMs, history: 1 });
    let unblock: () => void = () => {};
    const stopping = new Promise<void>((r) => {
      unblock = r;
    });
    const lost: number[] = [];
    const acquired: number[] = [];
    const leases = new PartitionLeases({
      openBucket: async () => kv,
      runtimeDb: db,
      owner: 'owner-a',
      partitions: 3,
      ttlMs,
      onAcquired: async (p) => {
        acquired.push(p);
      },
      onLost: async (p) => {
        lost.push(p);
        if (p === 0) await stopping;
      },
    });
    await leases.start();
    try {
      expect(leases.owned()).toEqual([0, 1, 2]);
      // Another writer takes partition 0's key: this process's next renewal of it fails.
      await kv.put('p.0', 'someone-else');
      await eventually(async () => (lost.includes(0) ? true : undefined), 5000, 'partition 0 lost');
      const revisionOf = async (p: number) => (await kv.get(`p.${p}`))?.revision ?? 0;
      const before = await revisionOf(1);
      // While partition 0's worker is still stopping, partitions 1 and 2 are renewed, tick after tick.
      await eventually(
        async () => ((await revisionOf(1)) >= before + 2 ? true : undefined),
        ttlMs,
        'partition 1 renewed twice while partition 0 stops',
      );
      expect(leases.owned()).toEqual([1, 2]);
      // The stolen key is let go meanwhile; a tick later (partition 1 renewed again) partition 0 is still not
      // taken again: its old worker has not stopped.
      await kv.delete('p.0');
      const after = await revisionOf(1);
      await eventually(
        async () => ((await revisionOf(1)) > after ? true : undefined),
        ttlMs,
        'a tick after the key is free',
      );
      expect(acquired.filter((p) => p === 0)).toHaveLength(1);
      unblock();
      await eventually(
        async () => (acquired.filter((p) => p === 0).length === 2 ? true : undefined),
        5000,
        'partition 0 taken again once its worker stopped',
      );
    } finally {
      unblock();
      await leases.stop();
    }
  });
});
