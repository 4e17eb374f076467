/**
 * Card numbers and mobile-key recipients at REST: a card credential on a lock that registers cards by number needs the number;
 * a number on another kind is refused; neither changes anything. The number never comes back.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answersStored } from '../../src/gateway/idempotency.ts';
import { connect, type Db } from '../../src/io/db/index.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('card numbers', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let admin: Db;
  let auth: { authorization: string };
  let propertyId: string;
  // A stay ahead of now: fixed dates would have the service expire the credential at issue once passed.
  const stay = stayDates();

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    admin = connect(h.databaseUrl, { max: 1 });
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    ({ propertyId } = await seedProperty(h.service, tenant, { '101': '7001' }));
  });
  afterAll(async () => {
    await gw?.app.close();
    await admin?.destroy();
    await h?.close();
  });

  const issue = (body: Record<string, unknown>) =>
    gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        rooms: ['101'],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
        ...body,
      },
    });
  const credentials = async () =>
    Number((await sql<{ n: string }>`select count(*) as n from key_credentials`.execute(admin)).rows[0]?.n);

  it('card numbers: a card on a TTLock lock without its number, or a number on a PIN, is 400 and changes nothing', async () => {
    const before = await credentials();
    const noNumber = await issue({ kind: 'card' });
    expect([noNumber.statusCode, noNumber.json().code]).toEqual([400, 'LOCK.VALIDATION']);
    expect(noNumber.json().detail).toContain('cardNumber is required');
    const onPin = await issue({ kind: 'pin', cardNumber: '123456' });
    expect([onPin.statusCode, onPin.json().code]).toEqual([400, 'LOCK.VALIDATION']);
    const letters = await issue({ kind: 'card', cardNumber: 'ABC123' });
    expect(letters.statusCode).toBe(400);
    expect(await credentials()).toBe(before);
    expect(h.ttlock.state().credentials.filter((c) => c.kind === 'card')).toHaveLength(0);
  });

  it('recipients: a mobile key on a TTLock lock without the guest account, or an account on a PIN, is 400', async () => {
    const before = await credentials();
    const none = await issue({ kind: 'mobile_key' });
    expect([none.statusCode, none.json().code]).toEqual([400, 'LOCK.VALIDATION']);
    expect(none.json().detail).toContain('recipient is required');
    const onPin = await issue({ kind: 'pin', recipient: 'guest.one@example.com' });
    expect([onPin.statusCode, onPin.json().code]).toEqual([400, 'LOCK.VALIDATION']);
    expect(await credentials()).toBe(before);
  });

  it('recipients: an account TTLock does not know fails the credential with the reason, and nothing stays at the lock', async () => {
    const r = await issue({ kind: 'mobile_key', recipient: 'nobody@example.com' });
    expect(r.statusCode).toBe(201);
    expect(r.json().status).toBe('failed');
    expect(r.json().failure).toMatchObject({ code: 'INVALID' });
    expect(h.ttlock.state().credentials.filter((c) => c.kind === 'mobile_key')).toHaveLength(0);
  });

  it('card numbers: the number reaches the lock but is stored sealed and never echoed', async () => {
    const r = await issue({ kind: 'card', cardNumber: '998877665544' });
    expect(r.statusCode).toBe(201);
    expect(r.body).not.toContain('998877665544');
    expect(h.ttlock.state().credentials.find((c) => c.kind === 'card')?.cardNumber).toBe('998877665544');
    // The key's answer is stored after it is sent: looked for once it is there.
    await answersStored(h.service.runtimeDb);
    for (const table of ['actor_snapshots', 'key_credentials', 'idempotency_keys', 'outbox', 'audit_log']) {
      const hit = await sql<{ n: string }>`
        select count(*) as n from ${sql.table(table)} t where t::text like '%998877665544%'`.execute(admin);
      expect(Number(hit.rows[0]?.n), table).toBe(0);
    }
  });
});
