import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, withTenant, withUser } from '../../src/io/db/index.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('gateway: key credentials over REST', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  let auth: { authorization: string };
  let propertyId: string;
  // A one-night stay ahead of now: fixed dates would have the service expire each credential at issue once
  // passed. Later check-outs extend it.
  const stay = stayDates();
  const extended = stay.nights(3);

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    auth = { authorization: `Bearer ${await gw.token(tenant)}` };
    const p = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: auth,
      payload: { name: 'H', timezone: 'UTC' },
    });
    expect(p.statusCode).toBe(201);
    propertyId = p.json().id;
    const a = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
      headers: auth,
      payload: { status: 'enabled', config: {} },
    });
    expect(a.statusCode).toBe(200);
    const d = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/lock-devices',
      headers: auth,
      payload: { propertyId, roomId: '101', vendor: 'ttlock', vendorDeviceRef: '7001' },
    });
    expect(d.statusCode).toBe(201);
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  const body = () => ({
    propertyId,
    holder: { kind: 'guest', ref: 'g-1' },
    kind: 'pin',
    rooms: ['101'],
    validFrom: stay.checkIn,
    validUntil: stay.nights(1),
  });

  it('gateway: 202 with Location when the vendor is slower than the wait budget; GET waitFor=settled waits for active', async () => {
    const impatient = await buildTestGateway(h, { waitBudgetMs: 20 });
    const headers = { authorization: `Bearer ${await impatient.token(tenant)}` };
    h.ttlock.setFaults({ latencyMs: 400 });
    try {
      const key = randomUUID();
      const payload = body();
      const post = () =>
        impatient.app.inject({
          method: 'POST',
          url: '/api/v1/key-credentials',
          headers: { ...headers, 'idempotency-key': key },
          payload,
        });
      const r = await post();
      expect(r.statusCode).toBe(202);
      // The prepared spare PINs stay in the stored answer (sealed), never in the one sent.
      expect(Object.keys(r.json())).not.toContain('preparedPins');
      const location = String(r.headers.location);
      expect(location).toBe(`/api/v1/key-credentials/${r.json().id}`);
      expect(r.json().status).not.toBe('active');
      // Issued in process without a journal entry first, it is journaled before the 202 says "accepted".
      const id = r.json().id as string;
      const journaled = () =>
        withTenant(h.service.runtimeDb, tenant, (tx) =>
          sql<{ n: number }>`select count(*)::int as n from effect_intents
            where id = ${`cmd:credential:${id}:${id}:issue`}`.execute(tx),
        ).then((x) => x.rows[0]?.n);
      expect(await journaled()).toBe(1);
      const settled = await impatient.app.inject({
        method: 'GET',
        url: `${location}?waitFor=settled&timeoutMs=10000`,
        headers,
      });
      expect(settled.statusCode).toBe(200);
      expect(settled.json().status).toBe('active');
      expect(settled.json().pin).toBeUndefined();
      // Replaying the request now answers as the issue ended: 201, active, the PIN the lock holds.
      const replay = await post();
      expect([replay.statusCode, replay.json().status]).toEqual([201, 'active']);
      const held = h.ttlock.state().credentials.find((c) => c.ref === replay.json().grants[0].vendorRef);
      expect(replay.json().pin).toBe(held?.pin);
      expect((await post()).json()).toEqual(replay.json());
      // The journal entry's own delivery finds the issue applied and releases it: issued once.
      await eventually(async () => ((await journaled()) === 0 ? true : undefined));
      const issues = await withTenant(h.service.runtimeDb, tenant, (tx) =>
        sql<{ n: number }>`select count(*)::int as n from audit_log
          where (entry::jsonb)->>'actor' = ${`credential/${id}`} and (entry::jsonb)->>'event' = 'credential.issue'`.execute(
          tx,
        ),
      );
      expect(issues.rows[0]?.n).toBe(1);
      expect(
        h.ttlock.state().credentials.filter((c) => c.ref === replay.json().grants[0].vendorRef),
      ).toHaveLength(1);
    } finally {
      h.ttlock.setFaults({ latencyMs: 0 });
      await impatient.app.close();
    }
  });

  it('gateway: issues a PIN, returns it once, replays the same response for the same key, revokes', async () => {
    const passcodesOn7001 = () => h.ttlock.state().credentials.filter((x) => x.lockRef === '7001');
    const before = passcodesOn7001().length;
    const key = randomUUID();
    const r = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': key },
      payload: body(),
    });
    expect(r.statusCode).toBe(201);
    const c = r.json();
    expect(c.status).toBe('active');
    expect(c.pin).toMatch(/^\d{6}$/);
    expect(passcodesOn7001()).toHaveLength(before + 1);

    const replay = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': key },
      payload: body(),
    });
    expect(replay.statusCode).toBe(201);
    expect(replay.json()).toEqual(c);
    expect(passcodesOn7001()).toHaveLength(before + 1);

    const reused = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': key },
      payload: { ...body(), rooms: ['101', '102'] },
    });
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('LOCK.IDEMPOTENCY_KEY_REUSED');

    const got = await gw.app.inject({ method: 'GET', url: `/api/v1/key-credentials/${c.id}`, headers: auth });
    expect(got.json().pin).toBeUndefined();
    // The 201 was built from the settling commit's own row (in process): it is what a read returns, field
    // for field (dates normalized, grants as stored), with the PIN besides.
    const { pin: _pin, ...issued } = c;
    expect(got.json()).toEqual(issued);

    const rv = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/key-credentials/${c.id}/revoke`,
      headers: auth,
      payload: { reason: 'lost' },
    });
    expect(rv.statusCode).toBe(200);
    expect(rv.json().status).toBe('revoked');
    expect(passcodesOn7001()).toHaveLength(before);
    expect(passcodesOn7001().map((x) => x.ref)).not.toContain(c.grants[0].vendorRef);
  });

  it('gateway: PATCH changes the validity at the vendor in place; a revoked credential cannot', async () => {
    const created = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: body(),
    });
    const c = created.json();
    expect(c.status).toBe('active');
    const patched = await gw.app.inject({
      method: 'PATCH',
      url: `/api/v1/key-credentials/${c.id}`,
      headers: auth,
      payload: { validUntil: extended },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ status: 'active', validUntil: extended });
    expect(patched.json().pin).toBeUndefined();
    const atVendor = h.ttlock.state().credentials.find((x) => x.ref === c.grants[0].vendorRef);
    expect(atVendor).toMatchObject({
      validFrom: stay.checkIn,
      validUntil: extended,
    });

    const backwards = await gw.app.inject({
      method: 'PATCH',
      url: `/api/v1/key-credentials/${c.id}`,
      headers: auth,
      // Ends before the stay's check-in: a window backwards.
      payload: { validUntil: stay.day(-1, 11) },
    });
    expect(backwards.statusCode).toBe(400);

    await gw.app.inject({
      method: 'POST',
      url: `/api/v1/key-credentials/${c.id}/revoke`,
      headers: auth,
      payload: { reason: 'done' },
    });
    const closed = await gw.app.inject({
      method: 'PATCH',
      url: `/api/v1/key-credentials/${c.id}`,
      headers: auth,
      payload: { validUntil: stay.nights(4) },
    });
    expect(closed.statusCode).toBe(409);
    expect(closed.json().code).toBe('LOCK.INVALID_STATE');
  });

  it('gateway: a PATCH through a gateway whose clock runs behind still applies after the window it saw', async () => {
    const issued = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: body(),
    });
    const c = issued.json();
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString();
    const first = await gw.app.inject({
      method: 'PATCH',
      url: `/api/v1/key-credentials/${c.id}`,
      headers: auth,
      payload: { validUntil: day(3) },
    });
    expect(first.statusCode, first.body).toBe(200);
    // Another process whose clock is a minute behind: the caller read the first window, then shortens it.
    const behind = await buildTestGateway(h, { clock: { now: () => new Date(Date.now() - 60_000) } });
    try {
      const shorter = day(2);
      const second = await behind.app.inject({
        method: 'PATCH',
        url: `/api/v1/key-credentials/${c.id}`,
        headers: { authorization: `Bearer ${await behind.token(tenant)}` },
        payload: { validUntil: shorter },
      });
      expect(second.statusCode, second.body).toBe(200);
      expect(second.json().validUntil).toBe(shorter);
    } finally {
      await behind.app.close();
    }
  });

  it('gateway: lists page with a cursor, each row once', async () => {
    for (const roomId of ['102', '103']) {
      const d = await gw.app.inject({
        method: 'POST',
        url: '/api/v1/lock-devices',
        headers: auth,
        payload: {
          propertyId,
          roomId,
          vendor: 'ttlock',
          vendorDeviceRef: roomId === '102' ? '7002' : '7003',
        },
      });
      expect(d.statusCode).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page = (
        await gw.app.inject({
          method: 'GET',
          url: `/api/v1/lock-devices?propertyId=${propertyId}&limit=1${q}`,
          headers: auth,
        })
      ).json();
      expect(page.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.items.map((d: { roomId: string }) => d.roomId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(['101', '102', '103']);
  });

  it('gateway: bad input is a 400 problem and changes nothing', async () => {
    const before = (
      await gw.app.inject({ method: 'GET', url: '/api/v1/key-credentials', headers: auth })
    ).json().items.length;
    const r = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: { ...body(), kind: 'telepathy' },
    });
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json().code).toBe('LOCK.VALIDATION');
    const noKey = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: auth,
      payload: body(),
    });
    expect(noKey.json().code).toBe('LOCK.IDEMPOTENCY_KEY_REQUIRED');
    const noLock = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: { ...body(), rooms: ['999'] },
    });
    expect(noLock.statusCode).toBe(422);
    expect(noLock.json().code).toBe('LOCK.NO_LOCK_FOR_ROOM');
    // Text PostgreSQL cannot keep (a NUL; an unpaired surrogate, as JSON escapes) is refused at the door.
    for (const ref of ['guest\u0000x', 'guest\ud800x']) {
      const poisoned = await gw.app.inject({
        method: 'POST',
        url: '/api/v1/key-credentials',
        headers: { ...auth, 'idempotency-key': randomUUID(), 'content-type': 'application/json' },
        payload: JSON.stringify({ ...body(), holder: { kind: 'guest', ref } }),
      });
      expect(poisoned.statusCode, poisoned.body).toBe(400);
      expect(poisoned.headers['content-type']).toContain('application/problem+json');
      expect(poisoned.json().code).toBe('LOCK.VALIDATION');
    }
    const after = (
      await gw.app.inject({ method: 'GET', url: '/api/v1/key-credentials', headers: auth })
    ).json().items.length;
    expect(after).toBe(before);
  });

  it('gateway: missing, invalid or expired tokens are 401; another tenant sees nothing (404)', async () => {
    expect((await gw.app.inject({ method: 'GET', url: '/api/v1/lock-devices' })).statusCode).toBe(401);
    expect(
      (
        await gw.app.inject({
          method: 'GET',
          url: '/api/v1/lock-devices',
          headers: { authorization: 'Bearer nope' },
        })
      ).statusCode,
    ).toBe(401);
    const expired = await gw.token(tenant, -10);
    const e = await gw.app.inject({
      method: 'GET',
      url: '/api/v1/lock-devices',
      headers: { authorization: `Bearer ${expired}` },
    });
    expect(e.statusCode).toBe(401);
    const other = { authorization: `Bearer ${await gw.token('someone-else')}` };
    expect(
      (await gw.app.inject({ method: 'GET', url: `/api/v1/properties/${propertyId}`, headers: other }))
        .statusCode,
    ).toBe(404);
    expect(
      (await gw.app.inject({ method: 'GET', url: '/api/v1/lock-devices', headers: other })).json().items,
    ).toEqual([]);
  });

  it('gateway: the runtime role with another tenant set sees no rows in any table', async () => {
    const db = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 1 });
    try {
      for (const table of [
        'properties',
        'lock_devices',
        'key_credentials',
        'actor_snapshots',
        'audit_log',
        'idempotency_keys',
      ]) {
        const mine = await withTenant(db, tenant, (tx) =>
          sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(tx),
        );
        const theirs = await withTenant(db, 'someone-else', (tx) =>
          sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(tx),
        );
        expect(Number(mine.rows[0]?.n), table).toBeGreaterThan(0);
        expect(Number(theirs.rows[0]?.n), table).toBe(0);
      }
      await expect(
        withTenant(db, tenant, (tx) => sql`update audit_log set entry = 'x'`.execute(tx)),
      ).rejects.toThrow();
    } finally {
      await db.destroy();
    }
  });

  it('gateway: every catalog code is in /openapi.json and /health/ready answers', async () => {
    const doc = (await gw.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const text = JSON.stringify(doc);
    const { errorCodes } = await import('../../src/errors.ts');
    for (const code of errorCodes) expect(text).toContain(code);
    const ready = await gw.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
  });
});
