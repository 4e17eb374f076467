/**
 * The outbox relay's pass (migration 0025): one relay at a time across processes by a session-level lock on
 * each relay's own connection; what a pass published is deleted by the next; a relay whose process dies
 * (its connection closes) hands over at once, and the next relay publishes its last rows again — JetStream's
 * duplicate window drops the copies: each event is in the stream once, in order.
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRelay } from '../../src/actors/outboxRelay.ts';
import { connect, type Db, withUser } from '../../src/io/db/index.ts';
import { topology } from '../../src/io/nats/topology.ts';
import {
  dropDatabase,
  dropNats,
  eventually,
  type Harness,
  NATS_URL,
  startHarness,
} from '../support/harness.ts';

describe('outbox relay', () => {
  let h: Harness;
  let owner: Db;
  let nc: NatsConnection;
  let stopped = false;
  const tenant = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness();
    owner = connect(h.databaseUrl, { max: 1 });
    nc = await natsConnect({ servers: NATS_URL });
  });
  afterAll(async () => {
    await nc?.close();
    for (const p of pools) await p.destroy().catch(() => {});
    await owner?.destroy();
    if (!stopped) await h?.close();
    else {
      await h.ttlock.close();
      await dropNats(h.prefix);
      await dropDatabase(h.databaseUrl);
    }
  });

  const t = () => topology(h.prefix, h.settings.partitions);
  const pools: Db[] = [];
  /** Another process's relay: its own connection, as the service gives its relay. */
  const relay = (natsConnection = nc) => {
    const relayDb = connect(withUser(h.databaseUrl, 'lock_dispatcher'), { max: 1 });
    pools.push(relayDb);
    return { relay: new OutboxRelay({ relayDb, js: jetstream(natsConnection) }), relayDb };
  };
  const insert = async (n: number) => {
    const ids = Array.from({ length: n }, () => randomUUID());
    for (const id of ids)
      await sql`insert into outbox (tenant_id, event_id, subject, payload)
        values (${tenant}, ${id}, ${`${t().eventsRoot}.test.v1`}, ${JSON.stringify({ id })}::jsonb)`.execute(
        owner,
      );
    return ids;
  };
  const inOutbox = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from outbox`.execute(owner)).rows[0]?.n;
  /** The events of this test in the stream, in stream order. */
  const published = async () => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(t().eventsStream);
    const out: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(t().eventsStream, { seq }).catch(() => null);
      if (m?.subject.endsWith('.test.v1')) out.push((m.json() as { id: string }).id);
    }
    return out;
  };

  it('relay: one at a time; stopped, it hands over at once; died, its last rows are published again once', async () => {
    // The service's own relay is the relay: another process's pass gets nothing while it is.
    const first = await insert(3);
    const other = relay();
    await eventually(async () => ((await inOutbox()) === 0 ? true : undefined));
    expect(await published()).toEqual(first);
    await insert(2).then((ids) => first.push(...ids));
    expect(await other.relay.relayOnce()).toBe(0);
    await eventually(async () => ((await inOutbox()) === 0 ? true : undefined));

    // The service stops: the other relay takes over at its next pass.
    await h.service.stop();
    stopped = true;
    const second = await insert(4);
    expect(await other.relay.relayOnce()).toBe(4);
    expect(await inOutbox()).toBe(4); // deleted by the next pass, not this one
    expect(await other.relay.relayOnce()).toBe(0);
    expect(await inOutbox()).toBe(0);

    // It publishes two, and its process dies before the next pass (its connection closes): a third relay
    // takes over at once, publishes them again, and the stream keeps each once.
    const third = await insert(2);
    const next = relay();
    expect(await other.relay.relayOnce()).toBe(2);
    expect(await next.relay.relayOnce()).toBe(0);
    await other.relayDb.destroy();
    // The server lets the lock go as the closed session ends, a moment after the client has closed.
    await eventually(async () => ((await next.relay.relayOnce()) === 2 ? true : undefined));
    expect(await next.relay.relayOnce()).toBe(0);
    expect(await inOutbox()).toBe(0);
    expect(await published()).toEqual([...first, ...second, ...third]);
    await next.relay.stop();
  });

  it('relay: one that cannot publish (its NATS is gone) lets go of the lock at once; stopped, too', async () => {
    // Runs after the first case: the service is stopped and its last relay let go.
    const dead = await natsConnect({ servers: NATS_URL });
    await dead.close();
    const broken = relay(dead);
    const rows = await insert(2);
    await expect(broken.relay.relayOnce()).rejects.toThrow();
    const other = relay();
    expect(await other.relay.relayOnce()).toBe(2);
    await other.relay.stop();
    const more = await insert(1);
    const third = relay();
    expect(await third.relay.relayOnce()).toBe(1);
    await third.relay.stop();
    expect(await inOutbox()).toBe(0);
    expect((await published()).slice(-3)).toEqual([...rows, ...more]);
  });
});
