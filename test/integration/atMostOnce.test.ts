/**
 * What a message releases (its intent's or its timer's row) is its at-most-once token (migration 0024):
 * - A message applied in process has no place in the inbox stream, so the stream's sequence cannot tell a
 *   copy of it sent through the stream later (another process's sweeper resending a journaled command whose
 *   in-process delivery sat queued past its claim, or a stopping worker handing what it had to the stream);
 *   its journal row, gone once applied, can. A PATCH is applied, a second PATCH after it, then the first's
 *   copy arrives through the stream: it changes nothing.
 * - A stay's end sent with more than millisecond precision (Java's Instant, Python's isoformat) is kept to
 *   the microsecond, while the timer's delivery names it to the millisecond: the check must still find the
 *   timer it releases, and the credential expires.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestHash } from '../../src/gateway/idempotency.ts';
import { withTenant } from '../../src/io/db/index.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';

describe('applied at most once', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenant = `t-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('once: a PATCH applied in process and sent again through the stream after a later PATCH changes nothing', async () => {
    const { propertyId } = await seedProperty(h.service, tenant, { '101': '7001' });
    const issued = await gw.issuePin(tenant, propertyId);
    expect(issued.statusCode, issued.body).toBe(201);
    const id = (issued.json() as { id: string }).id;
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString();
    const patch = async (key: string, validUntil: string) => {
      const r = await gw.app.inject({
        method: 'PATCH',
        url: `/api/v1/key-credentials/${id}`,
        headers: { ...auth, 'idempotency-key': key },
        payload: { validUntil },
      });
      expect(r.statusCode, r.body).toBe(200);
      expect(r.json()).toMatchObject({ status: 'active', validUntil });
    };
    const first = { key: randomUUID(), validUntil: day(3) };
    const second = { key: randomUUID(), validUntil: day(2) };
    await patch(first.key, first.validUntil);
    await patch(second.key, second.validUntil);

    // The first PATCH's journaled message as a sweeper sends it: its journal id, through the stream.
    // As the route names it: the key and a digest of what it changes.
    const msgId = `${id}:update:${first.key}:${requestHash({ validUntil: first.validUntil }).slice(0, 16)}`;
    const address = { type: 'credential' as const, id };
    await h.service.mailbox.send(
      address,
      {
        tenantId: tenant,
        by: 'test',
        // The route's event: more than the envelope's type says.
        event: { type: 'credential.update', at: new Date().toISOString(), validUntil: first.validUntil } as {
          type: string;
          at: string;
        },
        intentId: `cmd:credential:${id}:${msgId}`,
      },
      msgId,
    );
    // Then a revoke through the stream too: the inbox applies it after the copy, so once it is settled
    // the copy has been decided.
    await h.service.mailbox.send(
      address,
      {
        tenantId: tenant,
        by: 'test',
        event: { type: 'credential.revoke', at: new Date().toISOString(), reason: 'checkout' } as {
          type: string;
          at: string;
        },
      },
      `${id}:revoke:${randomUUID()}`,
    );
    await eventually(async () => {
      const r = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${id}`, headers: auth });
      return r.json().status === 'revoked' ? true : undefined;
    });
    const r = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${id}`, headers: auth });
    expect(r.json().validUntil).toBe(second.validUntil);
    const applied = await withTenant(h.service.runtimeDb, tenant, (tx) =>
      sql<{ n: number }>`
        select count(*)::int as n from audit_log where (entry::jsonb)->>'msgId' = ${msgId}`.execute(tx),
    );
    expect(applied.rows[0]?.n).toBe(1);
  });

  it('timer: a validUntil with microseconds expires the credential at the vendor', async () => {
    const { propertyId } = await seedProperty(h.service, tenant, { '102': '7002' });
    const auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const soon = new Date(Date.now() + 1500).toISOString().replace(/\.(\d{3})Z$/, '.$1456Z');
    const r = await gw.issuePin(tenant, propertyId, { rooms: ['102'], validUntil: soon });
    expect(r.statusCode, r.body).toBe(201);
    const { id, grants } = r.json() as { id: string; grants: { vendorRef: string }[] };
    const status = await eventually(async () => {
      const got = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${id}`, headers: auth });
      const s = got.json().status as string;
      return s === 'expired' ? s : undefined;
    });
    expect(status).toBe('expired');
    expect(h.ttlock.state().credentials.map((c) => c.ref)).not.toContain(grants[0]?.vendorRef);
  });
});
