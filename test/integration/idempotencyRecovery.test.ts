/**
 * Idempotency-Keys through failures: a key whose request died while holding it can be retried once its claim
 * lapses (not 409 forever), and a retry after an error that came once the issue was already sent answers
 * with the PIN the lock holds, not a fresh one nobody programmed. Old keys are pruned.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockError } from '../../src/errors.ts';
import { buildGateway } from '../../src/gateway/app.ts';
import { createDevAuthenticator, signDevToken } from '../../src/gateway/auth.ts';
import { answersStored, requestHash } from '../../src/gateway/idempotency.ts';
import { systemClock } from '../../src/ids.ts';
import { connect, type Db } from '../../src/io/db/index.ts';
import { gatewayPorts } from '../../src/service.ts';
import { seedProperty } from '../support/fixtures.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('idempotency keys through failures', () => {
  let h: Harness;
  let admin: Db;
  let app: Awaited<ReturnType<typeof buildGateway>>;
  let token: string;
  let runtimeDb: Db;
  let ports: ReturnType<typeof gatewayPorts>;
  /** The next `sendAndWait` sends its message, then fails as a lost acknowledgement would. */
  let failAfterSend = false;
  const tenantId = `t-${randomUUID().slice(0, 8)}`;
  const secret = Buffer.alloc(32, 7);
  // A stay ahead of now: fixed dates would have the service expire the credential at issue once passed.
  const stay = stayDates();

  beforeAll(async () => {
    h = await startHarness({ idempotencyClaimMs: 500 });
    admin = connect(h.databaseUrl, { max: 1 });
    ports = gatewayPorts(h.service, createDevAuthenticator(secret), 5000, systemClock);
    runtimeDb = ports.runtimeDb;
    const mailbox = ports.mailbox;
    const losingTheAnswer =
      (send: typeof mailbox.sendAndWait) =>
      async (...args: Parameters<typeof mailbox.sendAndWait>) => {
        const n = await send(...args);
        if (failAfterSend) {
          failAfterSend = false;
          throw new LockError('LOCK.UNAVAILABLE', 'the acknowledgement was lost');
        }
        return n;
      };
    const retryable = mailbox.sendAndWaitRetryable?.bind(mailbox);
    app = await buildGateway({
      ...ports,
      mailbox: {
        ...mailbox,
        // Both ways a command is sent and waited for (a REST issue is retryable).
        sendAndWait: losingTheAnswer(mailbox.sendAndWait.bind(mailbox)),
        ...(retryable ? { sendAndWaitRetryable: losingTheAnswer(retryable) } : {}),
      },
    });
    token = await signDevToken(secret, tenantId);
  });
  afterAll(async () => {
    await app?.close();
    await admin?.destroy();
    await h?.close();
  });

  const body = (propertyId: string, room: string) => ({
    propertyId,
    holder: { kind: 'guest', ref: 'g-1' },
    kind: 'pin',
    rooms: [room],
    validFrom: stay.checkIn,
    validUntil: stay.checkOut,
  });
  const post = (key: string, payload: Record<string, unknown>) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
      payload,
    });

  it('idempotency: a key whose request died holding it is taken over by the same request once its claim lapses', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' });
    const key = randomUUID();
    const payload = body(propertyId, '101');
    // What a process that claimed the key and died before answering leaves behind.
    await sql`
      insert into idempotency_keys (tenant_id, scope, key, request_hash, created_at)
      values (${tenantId}, 'POST /key-credentials', ${key}, ${requestHash(payload)}, now() - interval '1 hour')
    `.execute(admin);
    const r = await post(key, payload);
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ status: 'active' });
    // Another body under the key is still refused.
    expect((await post(key, { ...payload, rooms: ['102'] })).statusCode).toBe(422);
  });

  it('idempotency: a retry after an error that came once the issue was sent answers with the PIN the lock holds', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '103': '7003' });
    const key = randomUUID();
    failAfterSend = true;
    const first = await post(key, body(propertyId, '103'));
    expect(first.statusCode).toBe(503);
    const retry = await post(key, body(propertyId, '103'));
    expect(retry.statusCode).toBe(201);
    const held = h.ttlock.state().credentials.filter((c) => c.lockRef === '7003');
    expect(held).toHaveLength(1);
    expect(retry.json<{ pin: string }>().pin).toBe((held[0] as { pin?: string }).pin);
  });

  it('idempotency: an answer sent but never stored (its process died in between) is given again once the claim lapses, and nothing is issued twice', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '104': '7004' });
    const key = randomUUID();
    const first = await post(key, body(propertyId, '104'));
    expect(first.statusCode).toBe(201);
    await loseTheAnswer(key);
    const retry = await post(key, body(propertyId, '104'));
    expect(retry.statusCode).toBe(201);
    const [a, b] = [first.json<{ id: string; pin: string }>(), retry.json<{ id: string; pin: string }>()];
    expect(b.id).toBe(a.id);
    expect(b.pin).toBe(a.pin);
    expect(h.ttlock.state().credentials.filter((c) => c.lockRef === '7004')).toHaveLength(1);
  });

  /** What a process that sent the key's answer and died before storing it leaves behind: the claim, lapsed. */
  async function loseTheAnswer(key: string) {
    await answersStored(runtimeDb);
    const lost = await sql`
      update idempotency_keys set status_code = null, response = null, claimed_until = now() - interval '1 second'
      where tenant_id = ${tenantId} and key = ${key}`.execute(admin);
    expect(lost.numAffectedRows).toBe(1n);
  }

  it('idempotency: a device registration whose answer was lost answers 201 with the same device, not "already registered"', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '106': '7006' });
    const key = randomUUID();
    const register = () =>
      app.inject({
        method: 'POST',
        url: '/api/v1/lock-devices',
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
        payload: { propertyId, roomId: '106', vendor: 'ttlock', vendorDeviceRef: '8006' },
      });
    const first = await register();
    expect(first.statusCode).toBe(201);
    await loseTheAnswer(key);
    const retry = await register();
    expect(retry.statusCode).toBe(201);
    expect(retry.json<{ id: string }>().id).toBe(first.json<{ id: string }>().id);
  });

  it('idempotency: a key pruned and used again for another device is refused (422), not answered with the first device', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '108': '7008', '109': '7009' });
    const key = randomUUID();
    const register = (roomId: string, vendorDeviceRef: string) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/lock-devices',
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
        payload: { propertyId, roomId, vendor: 'ttlock', vendorDeviceRef },
      });
    expect((await register('108', '8008')).statusCode).toBe(201);
    await answersStored(runtimeDb);
    // What the pruner does to a key past its retention.
    await sql`delete from idempotency_keys where tenant_id = ${tenantId} and key = ${key}`.execute(admin);
    const reused = await register('109', '8009');
    expect([reused.statusCode, reused.json<{ code: string }>().code]).toEqual([
      422,
      'LOCK.IDEMPOTENCY_KEY_REUSED',
    ]);
  });

  it('idempotency: a revoke whose answer was lost answers 200 from the revoked credential', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '107': '7007' });
    const issued = await post(randomUUID(), body(propertyId, '107'));
    expect(issued.statusCode).toBe(201);
    const id = issued.json<{ id: string }>().id;
    const key = randomUUID();
    const revoke = () =>
      app.inject({
        method: 'POST',
        url: `/api/v1/key-credentials/${id}/revoke`,
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
        payload: { reason: 'guest left' },
      });
    const first = await revoke();
    expect(first.statusCode).toBe(200);
    await loseTheAnswer(key);
    const retry = await revoke();
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toMatchObject({ id, status: 'revoked' });
  });

  it('idempotency: a replay arriving while the answer is still being stored gets the answer, not 409', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, { '105': '7005' });
    // A claim that holds long past the slow store below: the replay cannot take it over, only wait for the answer.
    const holding = await buildGateway({ ...ports, idempotencyClaimMs: 60_000 });
    // A slow store: the answer's write is held for two seconds, long after the answer was sent.
    await sql`
      create or replace function slow_store() returns trigger language plpgsql as $$
      begin perform pg_sleep(2); return new; end $$;
      create trigger slow_store before update on idempotency_keys for each row
        when (new.key like 'slow-store-%' and old.status_code is null and new.status_code is not null)
        execute function slow_store()`.execute(admin);
    try {
      const key = `slow-store-${randomUUID()}`;
      const send = () =>
        holding.inject({
          method: 'POST',
          url: '/api/v1/key-credentials',
          headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
          payload: body(propertyId, '105'),
        });
      const first = await send();
      const replay = await send();
      expect([first.statusCode, replay.statusCode]).toEqual([201, 201]);
      expect(replay.json()).toEqual(first.json());
    } finally {
      await holding.close();
      await sql`drop trigger slow_store on idempotency_keys`.execute(admin);
    }
  });

  it('idempotency: keys older than the retention are pruned, newer ones kept', async () => {
    const [old, fresh] = [randomUUID(), randomUUID()];
    await sql`
      insert into idempotency_keys (tenant_id, scope, key, request_hash, status_code, response, created_at)
      values (${tenantId}, 'POST /x', ${old}, 'h', 200, '{}'::jsonb, now() - interval '25 hours'),
             (${tenantId}, 'POST /x', ${fresh}, 'h', 200, '{}'::jsonb, now() - interval '23 hours')
    `.execute(admin);
    expect(await h.service.pruner.pruneOnce()).toBeGreaterThanOrEqual(1);
    const left = await admin
      .selectFrom('idempotency_keys')
      .select('key')
      .where('key', 'in', [old, fresh])
      .execute();
    expect(left.map((r) => r.key)).toEqual([fresh]);
  });
});
