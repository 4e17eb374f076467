/**
 * PostgreSQL, not JetStream, is the record (nats-server 2.9 acknowledges before fsync). Each test loses what
 * JetStream carried, or what a runner could not clean up, at a chosen point, and checks that the door ends
 * as it must:
 * - a finished vendor call whose intent row the runner cannot delete is not run again once the credential
 *   has moved on (the applying commit deletes it);
 * - a timer whose message the actor inbox loses is delivered again (its row stays until it is applied);
 * - a platform event whose forwarded message is lost is forwarded again (it is acknowledged only once the
 *   reservation actor has committed it).
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect as natsConnect } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createActorMailbox } from '../../src/actors/index.ts';
import { TimerDispatcher } from '../../src/actors/timerDispatcher.ts';
import { connect, type Db, withUser } from '../../src/io/db/index.ts';
import { startTtlockSimulator, type TtlockSimulator } from '../../src/io/vendors/ttlock/index.ts';
import { type Service, type ServiceSettings, startService } from '../../src/service.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import {
  dropDatabase,
  dropNats,
  eventually,
  type Harness,
  NATS_URL,
  startHarness,
  testSettings,
  uniqueId,
} from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('the record is PostgreSQL', () => {
  const cleanups: (() => Promise<void>)[] = [];
  // A stay ahead of now: fixed dates would have the service expire the credentials at issue once passed.
  const stay = stayDates();
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  async function harness(over: Partial<ServiceSettings> = {}) {
    const h = await startHarness(over);
    cleanups.push(() => h.close());
    const gw = await buildTestGateway(h);
    cleanups.push(() => gw.app.close());
    return { h, gw };
  }

  it('durability: a finished vendor call is never run again after its credential moved on, even when its runner cannot delete the intent', async () => {
    const { h, gw } = await harness();
    const admin = connect(h.databaseUrl, { max: 1 });
    cleanups.push(() => admin.destroy());
    // The dispatcher's connection can no longer delete intents (a failed delete, every time).
    await sql`revoke delete on effect_intents from lock_dispatcher`.execute(admin);
    const tenantId = `t-${uniqueId()}`;
    const { propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' });
    const auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
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
    const revoked = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/key-credentials/${id}/revoke`,
      headers: auth,
      payload: { reason: 'checked_out' },
    });
    expect(revoked.json()).toMatchObject({ status: 'revoked' });
    // Nothing of the credential is left for a sweeper to run again (claims lapse after 2 s here).
    await eventually(
      async () => {
        const left = await admin
          .selectFrom('effect_intents')
          .select('id')
          .where('actor_id', '=', id)
          .execute();
        return left.length === 0 ? true : undefined;
      },
      10_000,
      'no intent of the credential left',
    );
    expect(h.ttlock.state().credentials).toEqual([]);
  });

  it('durability: a timer whose message the actor inbox lost is delivered again, and the stay ends', async () => {
    const ttlock = await startTtlockSimulator();
    cleanups.push(() => ttlock.close());
    const settings = testSettings(uniqueId(), ttlock.url, { timerRedeliverMs: 500 });
    cleanups.push(() => dropDatabase(settings.databaseUrl));
    cleanups.push(() => dropNats(settings.prefix));
    let service: Service = await startService(settings);
    cleanups.push(() => service.stop());
    const tenantId = `t-${uniqueId()}`;
    const { propertyId } = await seedProperty(service, tenantId, { '101': '7001' });
    // A stay ending two seconds from now.
    const validUntil = new Date(Date.now() + 2000).toISOString();
    const credentialId = randomUUID();
    const issuance = service.issuance;
    const { prepareIssue } = await import('../../src/issuance/credentialRequests.ts');
    const prepared = await prepareIssue(
      issuance,
      {
        tenantId,
        propertyId,
        reservationId: null,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101'],
        areas: [],
        validFrom: new Date(Date.now() - 3_600_000).toISOString(),
        validUntil,
      },
      new Date().toISOString(),
    );
    const active = await service.mailbox.sendAndWait(
      { type: 'credential', id: credentialId },
      { tenantId, event: prepared.event },
      `${credentialId}:issue`,
      (n) => n.status === 'active',
      10_000,
    );
    expect(active?.status).toBe('active');
    expect(ttlock.state().credentials).toHaveLength(1);

    // The runtime stops; the expiry falls due; a dispatcher sends it into the inbox, which then loses it.
    await service.stop();
    const nc = await natsConnect({ servers: NATS_URL });
    const dispatcherDb: Db = connect(withUser(settings.databaseUrl, 'lock_dispatcher'), { max: 1 });
    try {
      const jsm = await jetstreamManager(nc);
      const { topology } = await import('../../src/io/nats/index.ts');
      const t = topology(settings.prefix, settings.partitions);
      const dispatcher = new TimerDispatcher({
        dispatcherDb,
        mailbox: createActorMailbox(jetstream(nc), t),
        redeliverMs: 500,
      });
      await eventually(
        async () => ((await dispatcher.dispatchDue()) > 0 ? true : undefined),
        10_000,
        'the expiry sent',
      );
      await jsm.streams.purge(t.actorsStream);
    } finally {
      await dispatcherDb.destroy();
      await nc.close();
    }

    service = await startService(settings);
    await eventually(
      async () => {
        const row = await service.readModel.credential(tenantId, credentialId);
        return row?.status === 'expired' ? row : undefined;
      },
      15_000,
      'the credential expired',
    );
    expect(ttlock.state().credentials).toEqual([]);
  });

  it('durability: a platform event whose forwarded message is lost is forwarded again until its reservation has it', async () => {
    const ttlock = await startTtlockSimulator();
    cleanups.push(() => ttlock.close());
    const settings = testSettings(uniqueId(), ttlock.url, { platformCommitWaitMs: 1000 });
    cleanups.push(() => dropDatabase(settings.databaseUrl));
    cleanups.push(() => dropNats(settings.prefix));
    const first = await startService(settings);
    const tenantId = `t-${uniqueId()}`;
    const { propertyId } = await seedProperty(first, tenantId, { '101': '7001' });
    await first.stop();

    // Another owner holds every partition: the next service forwards platform events but consumes nothing.
    const nc = await natsConnect({ servers: NATS_URL });
    cleanups.push(() => nc.close());
    const { topology } = await import('../../src/io/nats/index.ts');
    const t = topology(settings.prefix, settings.partitions);
    const kv = await new Kvm(nc).create(t.leaseBucket, { ttl: settings.leaseTtlMs, history: 1 });
    const revisions = new Map<number, number>();
    for (let p = 0; p < settings.partitions; p++) revisions.set(p, await kv.create(`p.${p}`, 'holder'));
    let holding = true;
    const renew = setInterval(() => {
      if (!holding) return;
      for (const [p, r] of revisions)
        void kv.update(`p.${p}`, 'holder', r).then(
          (n) => revisions.set(p, n),
          () => {},
        );
    }, 500);
    cleanups.push(async () => clearInterval(renew));

    const service = await startService(settings);
    cleanups.push(() => service.stop());
    const jsm = await jetstreamManager(nc);
    const eventId = randomUUID();
    await jetstream(nc).publish(
      `${t.platformRoot}.reservation.confirmed.v1`,
      JSON.stringify({
        eventId,
        tenantId,
        propertyId,
        reservationId: 'res-lost',
        guestRef: 'g-1',
        rooms: ['101'],
        checkIn: stay.checkIn,
        checkOut: stay.checkOut,
      }),
      { msgID: eventId },
    );
    // The forwarded message reaches the inbox, and the inbox loses it.
    await eventually(
      async () => ((await jsm.streams.info(t.actorsStream)).state.messages > 0 ? true : undefined),
      10_000,
      'the forwarded message in the inbox',
    );
    await jsm.streams.purge(t.actorsStream);

    // The partitions are free again.
    holding = false;
    clearInterval(renew);
    for (const [p, r] of revisions) await kv.delete(`p.${p}`, { previousSeq: r }).catch(() => {});
    // The vendor call runs in the credential's turn, before that turn's commit (`EffectRunner.runsInTurn`):
    // the record is what is awaited, and then the vendor holds the one credential it says.
    const db = connectOnce(settings.databaseUrl, cleanups);
    const statuses = await eventually(
      async () => {
        const { rows } = await sql<{ status: string }>`select status from key_credentials`.execute(db);
        return rows.length > 0 && rows.every((r) => r.status === 'active')
          ? rows.map((r) => r.status)
          : undefined;
      },
      20_000,
      'the reservation issued and recorded',
    );
    expect(statuses).toEqual(['active']);
    expect(ttlock.state().credentials).toHaveLength(1);
  });

  it('durability: a REST revoke whose message the inbox lost is sent again from the journal, and the door closes', async () => {
    const ttlock = await startTtlockSimulator();
    cleanups.push(() => ttlock.close());
    const settings = testSettings(uniqueId(), ttlock.url);
    cleanups.push(() => dropDatabase(settings.databaseUrl));
    cleanups.push(() => dropNats(settings.prefix));
    const first = await startService(settings);
    const tenantId = `t-${uniqueId()}`;
    const { propertyId } = await seedProperty(first, tenantId, { '101': '7001' });
    const { prepareIssue } = await import('../../src/issuance/credentialRequests.ts');
    const prepared = await prepareIssue(
      first.issuance,
      {
        tenantId,
        propertyId,
        reservationId: null,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101'],
        areas: [],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
      },
      new Date().toISOString(),
    );
    const credentialId = randomUUID();
    await first.mailbox.sendAndWait(
      { type: 'credential', id: credentialId },
      { tenantId, event: prepared.event },
      `${credentialId}:issue`,
      (n) => n.status === 'active',
      10_000,
    );
    expect(ttlock.state().credentials).toHaveLength(1);
    await first.stop();

    // Another owner holds every partition while the revoke is accepted; then the inbox loses it.
    const nc = await natsConnect({ servers: NATS_URL });
    cleanups.push(() => nc.close());
    const { topology } = await import('../../src/io/nats/index.ts');
    const t = topology(settings.prefix, settings.partitions);
    const kv = await new Kvm(nc).create(t.leaseBucket, { ttl: settings.leaseTtlMs, history: 1 });
    const revisions = new Map<number, number>();
    for (let p = 0; p < settings.partitions; p++) revisions.set(p, await kv.create(`p.${p}`, 'holder'));
    const renew = setInterval(() => {
      for (const [p, r] of revisions)
        void kv.update(`p.${p}`, 'holder', r).then(
          (n) => revisions.set(p, n),
          () => {},
        );
    }, 500);
    cleanups.push(async () => clearInterval(renew));
    const service = await startService(settings);
    cleanups.push(() => service.stop());
    const { buildGateway } = await import('../../src/gateway/app.ts');
    const { createDevAuthenticator, signDevToken } = await import('../../src/gateway/auth.ts');
    const { gatewayPorts } = await import('../../src/service.ts');
    const { systemClock } = await import('../../src/ids.ts');
    const secret = Buffer.alloc(32, 3);
    const app = await buildGateway(gatewayPorts(service, createDevAuthenticator(secret), 300, systemClock));
    cleanups.push(() => app.close());
    const r = await app.inject({
      method: 'POST',
      url: `/api/v1/key-credentials/${credentialId}/revoke`,
      headers: { authorization: `Bearer ${await signDevToken(secret, tenantId)}` },
      payload: { reason: 'checked_out' },
    });
    expect(r.statusCode).toBe(202);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.purge(t.actorsStream);

    clearInterval(renew);
    for (const [p, rev] of revisions) await kv.delete(`p.${p}`, { previousSeq: rev }).catch(() => {});
    await eventually(
      async () => {
        const row = await service.readModel.credential(tenantId, credentialId);
        return row?.status === 'revoked' ? row : undefined;
      },
      20_000,
      'the credential revoked',
    );
    expect(ttlock.state().credentials).toEqual([]);
  });
});

function connectOnce(url: string, cleanups: (() => Promise<void>)[]): Db {
  const db = connect(url, { max: 1 });
  cleanups.push(() => db.destroy());
  return db;
}

export type { Harness, TtlockSimulator };
