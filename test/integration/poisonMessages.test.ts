/**
 * Messages an actor cannot take: one of an unknown type is rejected with the reason (never taken for
 * "nothing to do"), and one that fails every time for a reason of its own (an unreadable snapshot) is
 * rejected after a bounded number of tries and counted, while the other actors of its partition go on.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorHost, partitionOf } from '../../src/actors/index.ts';
import { actorKinds } from '../../src/actors/actorKinds.ts';
import { isLockError } from '../../src/errors.ts';
import { systemClock } from '../../src/ids.ts';
import { connect, type Db } from '../../src/io/db/index.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

describe('poison messages', () => {
  let h: Harness;
  let admin: Db;
  const tenantId = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness();
    admin = connect(h.databaseUrl, { max: 1 });
  });
  afterAll(async () => {
    await admin?.destroy();
    await h?.close();
  });

  const rejections = (actorId: string) =>
    admin
      .selectFrom('rejected_messages')
      .select(['code', 'reason'])
      .where('actor_id', '=', actorId)
      .execute();

  it('poison: a message of a type its actor does not take is rejected with the reason, not acknowledged as nothing', async () => {
    const id = randomUUID();
    await h.service.mailbox.send(
      { type: 'credential', id },
      { tenantId, event: { type: 'credential.revokee', at: new Date().toISOString() } },
      randomUUID(),
    );
    const [r] = await eventually(async () => {
      const rows = await rejections(id);
      return rows.length > 0 ? rows : undefined;
    });
    expect(r).toMatchObject({ code: 'LOCK.REJECTED_MESSAGE' });
    expect(r?.reason).toContain('credential.revokee');
  });

  it('poison: a message that fails every time is rejected after a few tries and its partition goes on', async () => {
    const broken = randomUUID();
    // A snapshot no machine can read (written by something else, or corrupted).
    await sql`
      insert into actor_snapshots (tenant_id, actor_type, actor_id, version, last_seq, machine_version, snapshot)
      values (${tenantId}, 'property', ${broken}, 3, 0, 1, ${JSON.stringify({ value: 'melted', context: {} })}::jsonb)
    `.execute(admin);
    await h.service.mailbox.send(
      { type: 'property', id: broken },
      {
        tenantId,
        event: { type: 'property.setKeyKindPolicy', at: new Date().toISOString(), policy: {} } as never,
      },
      randomUUID(),
    );
    // Another property in the same partition is served meanwhile.
    const partition = partitionOf('property', broken, h.settings.partitions);
    let neighbour = randomUUID();
    while (partitionOf('property', neighbour, h.settings.partitions) !== partition) neighbour = randomUUID();
    const served = await h.service.mailbox.sendAndWait(
      { type: 'property', id: neighbour },
      {
        tenantId,
        event: {
          type: 'property.create',
          at: new Date().toISOString(),
          name: 'Next door',
          timezone: 'UTC',
        } as never,
      },
      randomUUID(),
      (n) => n.version >= 1,
      10_000,
    );
    expect(served?.version).toBe(1);
    const [r] = await eventually(
      async () => {
        const rows = await rejections(broken);
        return rows.length > 0 ? rows : undefined;
      },
      20_000,
      'the failing message rejected',
    );
    expect(r).toMatchObject({ code: 'LOCK.MESSAGE_FAILED' });
    const metrics = await h.service.metrics.registry.getSingleMetricAsString(
      'lock_actor_messages_rejected_total',
    );
    expect(metrics).toContain('code="LOCK.MESSAGE_FAILED"');
  });

  it('newer code: a snapshot of a later machine version is not decided here (an outage, retried), never rejected', async () => {
    const id = randomUUID();
    const later = actorKinds.credential.machineVersion + 1;
    await sql`
      insert into actor_snapshots (tenant_id, actor_type, actor_id, version, last_seq, machine_version, snapshot)
      values (${tenantId}, 'credential', ${id}, 2, 0, ${later}, ${JSON.stringify({ value: 'sweeping', context: {} })}::jsonb)
    `.execute(admin);
    const host = new ActorHost({ runtimeDb: h.service.runtimeDb, clock: systemClock, eventsRoot: 'x' });
    const address = {
      type: 'credential' as const,
      id,
      partition: partitionOf('credential', id, h.settings.partitions),
    };
    const envelope = {
      tenantId,
      event: { type: 'credential.revoke', at: new Date().toISOString(), reason: 'checked_out' },
    };
    const decided = host.decide(address, envelope, null, randomUUID(), 1n, 'epoch');
    await expect(decided).rejects.toSatisfy((e: unknown) => isLockError(e, 'LOCK.UNAVAILABLE'));
    await expect(decided).rejects.toThrow(`machine version ${later}`);
  });
});
