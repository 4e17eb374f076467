/**
 * The outside view of a service running elsewhere (another process): its NATS subjects and streams, a
 * mailbox with a state watcher to send actor messages, and the owner role's database connection for
 * checks across row-level security. Holds no runtime of its own.
 */
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { sql } from 'kysely';
import { createActorMailbox, StateWatcher } from '../../src/actors/index.ts';
import { connect, type Db } from '../../src/io/db/index.ts';
import { ensureStreams, topology } from '../../src/io/nats/index.ts';
import type { ServiceSettings } from '../../src/service.ts';

export async function connectClient(s: ServiceSettings) {
  const nc: NatsConnection = await natsConnect({ servers: s.natsUrl });
  const js: JetStreamClient = jetstream(nc);
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const t = topology(s.prefix, s.partitions);
  await ensureStreams(jsm, t, { platform: true });
  const watcher = new StateWatcher(nc, t.stateRoot);
  watcher.start();
  await watcher.ready();
  const admin: Db = connect(s.databaseUrl, { max: 2, applicationName: 'test-client' });
  return {
    nc,
    js,
    jsm,
    topology: t,
    mailbox: createActorMailbox(js, t, watcher),
    admin,
    async statusCounts(): Promise<Record<string, number>> {
      const r = await sql<{ status: string; n: string }>`
        select status, count(*) as n from key_credentials group by status`.execute(admin);
      return Object.fromEntries(r.rows.map((x) => [x.status, Number(x.n)]));
    },
    /** Every message on `subject` in the events stream, parsed. */
    async eventsOn(subject: string): Promise<Record<string, unknown>[]> {
      const info = await jsm.streams.info(t.eventsStream, { subjects_filter: subject });
      const expected = info.state.subjects?.[subject] ?? 0;
      const out: Record<string, unknown>[] = [];
      if (expected === 0) return out;
      // An ephemeral consumer with one filter subject (2.9 has no multi-filter or ordered `filter_subjects`).
      const ci = await jsm.consumers.add(t.eventsStream, {
        filter_subject: subject,
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
        inactive_threshold: 30_000_000_000,
      });
      const c = await js.consumers.get(t.eventsStream, ci.name);
      while (out.length < expected) {
        const batch = await c.fetch({ max_messages: 500, expires: 2000 });
        for await (const m of batch) out.push(m.json<Record<string, unknown>>());
      }
      await jsm.consumers.delete(t.eventsStream, ci.name);
      return out;
    },
    async close() {
      watcher.stop();
      await nc.close();
      await admin.destroy();
    },
  };
}

export type Client = Awaited<ReturnType<typeof connectClient>>;
