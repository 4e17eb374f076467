/**
 * An operator deletes the actor inboxes (LOCK_ACTORS) and the partition leases (LOCK_LEASES) while
 * PostgreSQL keeps its data — a NATS volume lost, a stream recreated by hand. The service recovers by itself:
 * the streams are created again, the leases taken again with fences newer than those stored, the consumers
 * opened again, and a message in the new stream (whose sequences start at 1 again) is not taken for one the
 * actor applied before. A revoke sent afterwards reaches the lock.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('streams recreated under a running service', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenantId = `t-${randomUUID().slice(0, 8)}`;
  // A stay ahead of now: fixed dates would have the service expire the credential at issue once passed.
  const stay = stayDates();

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h, { waitBudgetMs: 3000 });
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('recreation: after LOCK_ACTORS and LOCK_LEASES are deleted, the service recovers and a revoke applies', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' });
    const auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    // Several messages, so the credential's last applied sequence is well above what the new stream starts at.
    const issued = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101'],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
      },
    });
    expect(issued.statusCode).toBe(201);
    const id = issued.json<{ id: string }>().id;
    expect(h.ttlock.state().credentials).toHaveLength(1);

    const jsm = h.service.jsm;
    const t = h.service.topology;
    await jsm.streams.delete(t.actorsStream);
    await jsm.streams.delete(`KV_${t.leaseBucket}`);

    // The revoke is accepted at once where this process still owns the credential's partition (delivered in
    // process), else once the inbox exists again (until then: 503, try again).
    const revoke = await eventually(
      async () => {
        const r = await gw.app.inject({
          method: 'POST',
          url: `/api/v1/key-credentials/${id}/revoke`,
          headers: { ...auth, 'idempotency-key': `revoke-${id}` },
          payload: { reason: 'checked_out' },
        });
        return r.statusCode === 503 ? undefined : r;
      },
      20_000,
      'the revoke accepted',
    );
    expect([200, 202]).toContain(revoke.statusCode);
    await eventually(
      async () => {
        const r = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${id}`, headers: auth });
        return r.json<{ status: string }>().status === 'revoked' ? true : undefined;
      },
      20_000,
      'revoked',
    );
    expect(h.ttlock.state().credentials).toEqual([]);
    // Every partition is owned again, under fences newer than before, and the inbox stream is back.
    await eventually(async () =>
      h.service.runtime.ownedPartitions().length === h.settings.partitions ? true : undefined,
    );
    await eventually(
      () =>
        jsm.streams.info(t.actorsStream).then(
          () => true,
          () => undefined,
        ),
      20_000,
      'inbox back',
    );
  });

  it('recreation: an actor last written before stream identities were kept is not taken for old news after one', async () => {
    const { connect } = await import('../../src/io/db/index.ts');
    const { startService } = await import('../../src/service.ts');
    const { propertyId } = await seedProperty(h.service, tenantId, { '102': '7002' });
    const auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    const issued = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-2' },
        kind: 'pin',
        rooms: ['102'],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
      },
    });
    const id = issued.json<{ id: string }>().id;
    // Settled before the row is rewritten, and the service stopped: no commit of its own may overwrite the
    // rewritten row, and nothing of the credential is left in flight in the old stream.
    await eventually(async () => {
      const r = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${id}`, headers: auth });
      return r.json<{ status: string }>().status === 'active' ? true : undefined;
    });
    await gw.app.close();
    await h.service.stop();
    // As a row written before this version: no stream identity, and a sequence far above a new stream's.
    const admin = connect(h.databaseUrl, { max: 1 });
    await admin
      .updateTable('actor_snapshots')
      .set({ inbox_epoch: null, last_seq: 999_999 })
      .where('actor_id', '=', id)
      .execute();
    await admin.destroy();
    // The new version is deployed (the service starts again), and later the inbox stream is recreated.
    // What the restarted service says, shown if the revoke does not apply in time.
    const said: string[] = [];
    const service = await startService({
      ...h.settings,
      log: (msg, data) => said.push(`${new Date().toISOString()} ${msg} ${JSON.stringify(data ?? {})}`),
    });
    h.service = service;
    gw = await buildTestGateway(h, { waitBudgetMs: 3000 });
    await service.jsm.streams.delete(service.topology.actorsStream);
    // Sent until the inbox takes it (the stream comes back within seconds), under one message id, so it is
    // applied once. Done is read from the record, not caught as a notification: the one commit that says
    // revoked could fall between two waits, and a repeat of the same message id commits nothing more.
    let sent = false;
    await eventually(
      async () => {
        if (!sent)
          sent = await service.mailbox
            .send(
              { type: 'credential', id },
              {
                tenantId,
                event: {
                  type: 'credential.revoke',
                  at: new Date().toISOString(),
                  reason: 'checked_out',
                } as never,
              },
              `revoke-${id}`,
            )
            .then(
              () => true,
              () => false,
            );
        return (await service.readModel.credential(tenantId, id))?.status === 'revoked' ? true : undefined;
      },
      20_000,
      'revoked',
    ).catch(async (e: unknown) => {
      // Evidence for the next look (an intermittent failure, about one run in 25, cause not found yet): which
      // partitions this process owns, the credential's, and everything the restarted service said.
      const { partitionOf } = await import('../../src/actors/partitioning.ts');
      const owned = service.runtime.ownedPartitions();
      const mine = partitionOf('credential', id, h.settings.partitions);
      throw new Error(
        `${String(e)}\nowned partitions ${JSON.stringify(owned)}, the credential's ${mine}\n${said.join('\n')}`,
      );
    });
    expect(h.ttlock.state().credentials.filter((c) => c.lockRef === '7002')).toEqual([]);
  });
});
