/**
 * An actor's creating event (`credential.issue`) is decided without reading the actor when it is not resident:
 * it is nearly always new. When it exists after all (the message sent again, by a sweeper or a retry), the
 * guess costs one refused commit: the commit is a version conflict that writes nothing, and the message,
 * decided again, reads the stored actor and is recognized as the repeat it is.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorEnvelope, ActorHost } from '../../src/actors/index.ts';
import { AlreadyApplied, createCommitBatcher } from '../../src/actors/commitBatcher.ts';
import { partitionOf } from '../../src/actors/partitioning.ts';
import { systemClock } from '../../src/ids.ts';
import { journalMessage } from '../../src/io/db/batchedCalls.ts';
import { connect, type Db } from '../../src/io/db/index.ts';
import { issueEvent } from '../support/credentialEvents.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

describe('actors assumed new on their creating event', () => {
  let h: Harness;
  let admin: Db;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  // A stay still ahead: one already over would be expired by the service's timer dispatcher mid-test (a commit
  // of its own, which the version checks below would take for the repeat's).
  const stayAhead = {
    validFrom: new Date(Date.now() + 86_400_000).toISOString(),
    validUntil: new Date(Date.now() + 3 * 86_400_000).toISOString(),
  };

  beforeAll(async () => {
    h = await startHarness();
    admin = connect(h.databaseUrl, { max: 1 });
  });
  afterAll(async () => {
    await admin?.destroy();
    await h?.close();
  });

  const currentFence = (partition: number) =>
    eventually(async () => {
      const r = await admin
        .selectFrom('partition_fences')
        .select('fence')
        .where('partition', '=', partition)
        .executeTakeFirst();
      return r ? BigInt(r.fence) : undefined;
    });

  it('assumed new: a creating event sent again is refused once, then read and recognized as a repeat', async () => {
    const id = randomUUID();
    const partition = partitionOf('credential', id, h.settings.partitions);
    const fence = await currentFence(partition);
    const envelope = { tenantId, event: issueEvent([1], stayAhead) as unknown as ActorEnvelope['event'] };
    const address = { type: 'credential' as const, id, partition };
    const batcher = createCommitBatcher(h.service.runtimeDb);
    const freshHost = () =>
      new ActorHost({ runtimeDb: h.service.runtimeDb, clock: systemClock, eventsRoot: 'x' });

    const first = await freshHost().decide(address, envelope, null, 'issue-1', fence, 'epoch-1');
    expect(first.kind).toBe('commit');
    if (first.kind !== 'commit') return;
    await batcher.commit(first.commit);

    // Another process (or this one after passivation) hears the same issue again: not resident, so assumed
    // new — and its commit is refused, writing nothing.
    const host = freshHost();
    const guessed = await host.decide(address, envelope, null, 'issue-1-again', fence, 'epoch-1');
    expect(guessed.kind).toBe('commit');
    if (guessed.kind !== 'commit') return;
    expect(guessed.commit.expectedVersion).toBe(0);
    await expect(batcher.commit(guessed.commit)).rejects.toMatchObject({ code: 'LOCK.VERSION_CONFLICT' });
    host.evict(address);
    const snapshot = await admin
      .selectFrom('actor_snapshots')
      .select(['version'])
      .where('actor_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(Number(snapshot.version)).toBe(1);

    // Decided again: read, and the machine sees the issue it already applied.
    const again = await host.decide(address, envelope, null, 'issue-1-again', fence, 'epoch-1', true);
    expect(again.kind).not.toBe('commit');
    expect(['unchanged', 'duplicate']).toContain(again.kind);
  });
  it('in process: a message whose intent its commit released before is refused as applied, writing nothing', async () => {
    const id = randomUUID();
    const partition = partitionOf('credential', id, h.settings.partitions);
    const fence = await currentFence(partition);
    const intentId = `cmd:credential:${id}:issue`;
    const event = issueEvent([1], stayAhead) as unknown as ActorEnvelope['event'];
    await journalMessage(h.service.runtimeDb, {
      tenant: tenantId,
      id: intentId,
      type: 'credential',
      actor: id,
      intent: { intent: 'sendMessage', operationId: `${id}:issue`, to: { type: 'credential', id }, event },
      claimMs: 60_000,
    });
    const envelope = { tenantId, event, intentId };
    const address = { type: 'credential' as const, id, partition };
    const batcher = createCommitBatcher(h.service.runtimeDb);
    const decideOnce = async (host: ActorHost, again = false) => {
      const o = await host.decide(address, envelope, null, `${id}:issue`, fence, 'epoch-1', again);
      if (o.kind !== 'commit') throw new Error(`expected a commit, got ${o.kind}`);
      // As the partition worker marks a commit of a message handed over in process.
      o.commit.once = true;
      return o.commit;
    };
    const freshHost = () =>
      new ActorHost({ runtimeDb: h.service.runtimeDb, clock: systemClock, eventsRoot: 'x' });

    await batcher.commit(await decideOnce(freshHost()));
    const intents = () =>
      admin.selectFrom('effect_intents').select('id').where('id', '=', intentId).execute();
    expect(await intents()).toEqual([]);

    // Decided again as if its first commit's answer had been lost: refused as applied, nothing written.
    const repeat = await decideOnce(freshHost());
    await expect(batcher.commit(repeat)).rejects.toBeInstanceOf(AlreadyApplied);
    const versions = await admin
      .selectFrom('actor_snapshots')
      .select('version')
      .where('actor_id', '=', id)
      .execute();
    expect(versions.map((v) => Number(v.version))).toEqual([1]);
  });
});
