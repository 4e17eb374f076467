/**
 * The REST path's per-request calls, batched across requests in flight (migration 0023): requests that arrive
 * while a statement runs share the next one, and an item that fails is its own caller's error alone — the
 * others of its batch are applied.
 */
import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimIdempotencyKey,
  journalMessage,
  readCredentialRow,
  storeIdempotentAnswer,
} from '../../src/io/db/batchedCalls.ts';
import { connect, type Database, setTenant, withTenant, withUser } from '../../src/io/db/index.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('batched request calls', () => {
  let h: Harness;
  const tenant = `tenant-${randomUUID().slice(0, 8)}`;
  const message = (id: string, operationId: string | undefined) => ({
    tenant,
    id,
    type: 'credential',
    actor: randomUUID(),
    intent: { intent: 'sendMessage', ...(operationId ? { operationId } : {}), event: { type: 'x' } },
    claimMs: 60_000,
  });

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('batched: one failing item fails alone; the others in its statement are applied', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    // The first goes at once; the rest arrive while it runs and share the next statement. The third has no
    // operation id: its row breaks a NOT NULL constraint.
    const results = await Promise.allSettled([
      journalMessage(h.service.runtimeDb, message(ids[0] as string, 'op-0')),
      journalMessage(h.service.runtimeDb, message(ids[1] as string, 'op-1')),
      journalMessage(h.service.runtimeDb, message(ids[2] as string, undefined)),
      journalMessage(h.service.runtimeDb, message(ids[3] as string, 'op-3')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23502' });
    const { rows } = await withTenant(h.service.runtimeDb, tenant, (tx) =>
      sql<{ id: string }>`select id from effect_intents where id = any(${ids}::text[]) order by id`.execute(
        tx,
      ),
    );
    expect(rows.map((r) => r.id).sort()).toEqual([ids[0], ids[1], ids[3]].sort());
  });

  it('batched: an item PostgreSQL cannot take as jsonb (a NUL, a lone surrogate) fails alone', async () => {
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const poisoned = (id: string, text: string) => ({
      ...message(id, `op-${id}`),
      intent: { intent: 'sendMessage', operationId: `op-${id}`, event: { type: 'x', reason: text } },
    });
    const results = await Promise.allSettled([
      journalMessage(h.service.runtimeDb, message(ids[0] as string, 'op-0')),
      journalMessage(h.service.runtimeDb, poisoned(ids[1] as string, 'a\u0000b')),
      journalMessage(h.service.runtimeDb, poisoned(ids[2] as string, 'x\ud800y')),
      journalMessage(h.service.runtimeDb, message(ids[3] as string, 'op-3')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: '22P05' });
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '22P05' });
    const { rows } = await withTenant(h.service.runtimeDb, tenant, (tx) =>
      sql<{ id: string }>`select id from effect_intents where id = any(${ids}::text[]) order by id`.execute(
        tx,
      ),
    );
    expect(rows.map((r) => r.id).sort()).toEqual([ids[0], ids[3]].sort());
  });

  it('batched: reads in one statement each answer under their own tenant', async () => {
    const gw = await buildTestGateway(h);
    try {
      const { propertyId } = await seedProperty(h.service, tenant, { '101': '7001' });
      const issued = await gw.issuePin(tenant, propertyId);
      expect(issued.statusCode, issued.body).toBe(201);
      const id = (issued.json() as { id: string }).id;
      const [first, mine, stranger] = await Promise.all([
        readCredentialRow(h.service.runtimeDb, tenant, randomUUID()),
        readCredentialRow(h.service.runtimeDb, tenant, id),
        readCredentialRow(h.service.runtimeDb, 'another-tenant', id),
      ]);
      expect(first).toBeNull();
      expect(mine).toMatchObject({ id, status: 'active', property_id: propertyId });
      expect(stranger).toBeNull();
    } finally {
      await gw.app.close();
    }
  });
  it('batched: claims sent in one statement in key order each get their own answer', async () => {
    const keys = ['k-d', 'k-c', 'k-b', 'k-a'].map((k) => `${k}-${randomUUID()}`);
    const claim = (key: string, hash: string) =>
      claimIdempotencyKey(h.service.runtimeDb, {
        tenant,
        scope: 'test',
        key,
        hash,
        prepared: null,
        claimMs: 60_000,
      });
    // The first goes alone; the other three share the next statement, sorted by key inside it.
    const first = await Promise.all(keys.map((k) => claim(k, `hash-${k}`)));
    expect(first.map((r) => r?.claimed)).toEqual([true, true, true, true]);
    const again = await Promise.all(keys.map((k) => claim(k, `hash-${k}`)));
    expect(again.map((r) => [r?.claimed, r?.request_hash])).toEqual(keys.map((k) => [false, `hash-${k}`]));
  });

  it('batched: answers to store go with the next round of claims, in one statement, each answered alone', async () => {
    // A pool of its own, counting its statements: its batchers are its own too.
    let statements = 0;
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: withUser(h.databaseUrl, 'lock_runtime'), max: 2 }),
      }),
      log: () => {
        statements++;
      },
    });
    try {
      const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((k) => `k-${k}-${randomUUID()}`) as [
        string,
        string,
        string,
        string,
      ];
      const claim = (key: string) =>
        claimIdempotencyKey(db, {
          tenant,
          scope: 'test',
          key,
          hash: `hash-${key}`,
          prepared: null,
          claimMs: 60_000,
        });
      const store = (key: string, status: number) =>
        storeIdempotentAnswer(db, { tenant, scope: 'test', key, status, response: { status, key } });
      await Promise.all([claim(a), claim(b)]);
      statements = 0;
      // C goes at once; the rest arrive while it runs and share the next statement. B's status is no int.
      const round = await Promise.allSettled([claim(c), store(a, 201), store(b, 2 ** 31), claim(d)]);
      expect(statements).toBe(2);
      expect(round.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect((round[2] as PromiseRejectedResult).reason).toMatchObject({ code: '22003' });
      expect(round.map((r) => (r.status === 'fulfilled' ? (r.value?.claimed ?? null) : 'error'))).toEqual([
        true,
        null,
        'error',
        true,
      ]);
      const [againA, againB] = await Promise.all([claim(a), claim(b)]);
      expect(againA).toMatchObject({ claimed: false, status_code: 201, response: { status: 201, key: a } });
      expect(againB).toMatchObject({ claimed: false, status_code: null });
    } finally {
      await db.destroy();
    }
  });

  it('batched: an answer to store never waits for a key another transaction holds: that store fails alone', async () => {
    // Rounds send claims and stores in one transaction; a store that waited could close a cycle with another
    // process's round (migration 0035).
    const key = `k-held-${randomUUID()}`;
    const claim = () =>
      claimIdempotencyKey(h.service.runtimeDb, {
        tenant,
        scope: 'test',
        key,
        hash: 'h',
        prepared: null,
        claimMs: 60_000,
      });
    const store = () =>
      storeIdempotentAnswer(h.service.runtimeDb, {
        tenant,
        scope: 'test',
        key,
        status: 201,
        response: { key },
      });
    expect(await claim()).toMatchObject({ claimed: true });
    const holder = connect(withUser(h.databaseUrl, 'lock_runtime'), { max: 1 });
    try {
      await holder.transaction().execute(async (tx) => {
        await setTenant(tx, tenant);
        await sql`select 1 from idempotency_keys where tenant_id = ${tenant} and scope = 'test' and key = ${key}
                  for update`.execute(tx);
        await expect(store()).rejects.toMatchObject({ code: '55P03' });
      });
    } finally {
      await holder.destroy();
    }
    await store();
    expect(await claim()).toMatchObject({ claimed: false, status_code: 201, response: { key } });
  });
});
