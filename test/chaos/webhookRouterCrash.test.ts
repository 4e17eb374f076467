/**
 * The webhook router dies between sending a report and committing the row's mark: its database session
 * is terminated right after the send. The mark rolls back, the next pass routes the webhook again, and
 * the lock device takes the report once (the message id deduplicates).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActorMailbox } from '../../src/actors/index.ts';
import { connect, type Db } from '../../src/io/db/index.ts';
import { WebhookRouter } from '../../src/jobs/webhookRouter.ts';
import { registerSeamDevice } from '../support/lockDevices.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

describe('webhook router crash', () => {
  let h: Harness;
  let admin: Db;
  beforeAll(async () => {
    h = await startHarness();
    // This test drives routing itself.
    await h.service.webhookRouter.stop();
    admin = connect(h.databaseUrl, { max: 1 });
  });
  afterAll(async () => {
    await admin?.destroy();
    await h?.close();
  });

  it('webhook router: killed after the send, before the commit: routed again, applied once', async () => {
    const { deviceId, ref, tenantId, propertyId } = await registerSeamDevice(h);
    expect(
      await h.service.webhookInbox.store({
        vendor: 'seam',
        webhookId: `endpoint-${randomUUID()}`,
        tenantId,
        propertyId,
        eventId: `msg_${randomUUID()}`,
        body: { event_type: 'device.low_battery', device_id: ref, battery_level: 0.1 },
      }),
    ).toBe(true);

    const real = h.service.mailbox;
    let killed = 0;
    const dying: ActorMailbox = {
      ...real,
      async send(address, envelope, msgId) {
        await real.send(address, envelope, msgId);
        // The process "dies" here: its open transaction's session goes away before the commit.
        const r = await sql<{ n: number }>`
          select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
           where usename = 'lock_dispatcher' and state like 'idle in transaction%'`.execute(admin);
        killed += r.rows[0]?.n ?? 0;
      },
    };
    const router = (mailbox: ActorMailbox) =>
      new WebhookRouter({ dispatcherDb: h.service.dispatcherDb, mailbox, clock: { now: () => new Date() } });

    await expect(router(dying).routeOnce()).rejects.toThrow();
    expect(killed).toBeGreaterThan(0);
    const unrouted = await sql<{ n: string }>`
      select count(*) as n from webhook_inbox where routed_at is null`.execute(admin);
    expect(Number(unrouted.rows[0]?.n)).toBe(1);

    // The next pass (a restarted router) routes it again.
    expect(await router(real).routeOnce()).toBe(1);
    const device = await eventually(async () => {
      const r = await sql<{ v: number; battery: number | null }>`
        select version::int as v, (snapshot->'context'->>'battery')::int as battery
          from actor_snapshots where actor_id = ${deviceId}`.execute(admin);
      return r.rows[0]?.battery === 10 ? r.rows[0] : undefined;
    });
    // Registered (1) and one report (2): the resend was deduplicated, not applied a second time.
    expect(device.v).toBe(2);
    const subject = `${h.service.topology.eventsRoot}.lock_device.battery_low.v1`;
    const published = await eventually(async () => {
      const info = await h.service.jsm.streams.info(h.service.topology.eventsStream, {
        subjects_filter: subject,
      });
      return info.state.subjects?.[subject];
    });
    expect(published).toBe(1);
  });

  it('webhook router: routed webhooks past retention are deleted; unrouted and recent ones stay', async () => {
    const ids = await sql<{ id: string }>`
      insert into webhook_inbox (vendor, event_id, body, routed_at) values
        ('seam', ${`old_${randomUUID()}`}, '{}'::jsonb, now() - interval '31 days'),
        ('seam', ${`recent_${randomUUID()}`}, '{}'::jsonb, now() - interval '29 days'),
        ('seam', ${`unrouted_${randomUUID()}`}, '{}'::jsonb, null)
      returning id`.execute(admin);
    const router = new WebhookRouter({
      dispatcherDb: h.service.dispatcherDb,
      mailbox: h.service.mailbox,
      clock: { now: () => new Date() },
    });
    expect(await router.pruneOnce()).toBe(1);
    const left = await sql<{ id: string }>`
      select id from webhook_inbox where id = any(${ids.rows.map((r) => r.id)}::bigint[]) order by id`.execute(
      admin,
    );
    expect(left.rows.map((r) => r.id)).toEqual(ids.rows.slice(1).map((r) => r.id));
  });
});
