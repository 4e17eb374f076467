/**
 * A REST issue planned from a context kept from an earlier claim (`issueContextCache.ts`) is journaled by its
 * own claim only while that context is still the property's (migration 0030): a property changed meanwhile
 * is planned from anew, and a kept context never serves another tenant.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimIdempotencyKey } from '../../src/io/db/batchedCalls.ts';
import { withTenant } from '../../src/io/db/index.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('issue claims: planned from a kept context only while it is current', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  const other = `t-${randomUUID().slice(0, 8)}`;
  let propertyId: string;
  const stay = stayDates();

  const as = async (t: string) => ({ authorization: `Bearer ${await gw.token(t)}` });
  const adapter = async (status: string) => {
    const r = await gw.app.inject({
      method: 'PUT',
      url: `/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
      headers: await as(tenant),
      payload: { status, config: {} },
    });
    expect(r.statusCode).toBe(200);
  };
  const issue = async (t: string) =>
    gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...(await as(t)), 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'g-1' },
        kind: 'pin',
        rooms: ['101'],
        validFrom: stay.checkIn,
        validUntil: stay.nights(1),
      },
    });
  /** REST issues sent so far, by way (`lock_rest_issues_total`). */
  const sentBy = async (way: string) =>
    (await h.service.metrics.restIssues.get()).values.find((v) => v.labels.way === way)?.value ?? 0;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    const p = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/properties',
      headers: await as(tenant),
      payload: { name: 'H', timezone: 'UTC' },
    });
    propertyId = p.json().id;
    await adapter('active');
    const d = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/lock-devices',
      headers: await as(tenant),
      payload: { propertyId, roomId: '101', vendor: 'ttlock', vendorDeviceRef: '7001' },
    });
    expect(d.statusCode).toBe(201);
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('a context kept from an earlier claim is planned from, and the property changed since is not', async () => {
    expect((await issue(tenant)).statusCode).toBe(201);
    expect(await sentBy('planned_after_claim')).toBe(1);
    expect((await issue(tenant)).statusCode).toBe(201);
    expect(await sentBy('journaled_by_claim')).toBe(1);
    // The adapter is disabled after the context was kept: the kept plan (on TTLock) is not journaled, and the
    // request is planned from the context its claim read, which refuses the room.
    await adapter('disabled');
    const refused = await issue(tenant);
    expect(refused.statusCode).toBe(422);
    expect(refused.json().code).toBe('LOCK.VENDOR_NOT_ENABLED');
    await adapter('active');
    expect((await issue(tenant)).statusCode).toBe(201);
    // Neither the refused request nor the next went the kept context's way: each was planned after its claim.
    expect(await sentBy('journaled_by_claim')).toBe(1);
    expect(await sentBy('planned_after_claim')).toBe(2);
    const rows = await withTenant(h.service.runtimeDb, tenant, (tx) =>
      tx.selectFrom('key_credentials').select('status').execute(),
    );
    expect(rows.map((r) => r.status)).toEqual(['active', 'active', 'active']);
  });

  it("another tenant's request for the property is refused, however its context is kept", async () => {
    expect((await issue(tenant)).statusCode).toBe(201);
    const sent = await sentBy('journaled_by_claim');
    const r = await issue(other);
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('LOCK.PROPERTY_NOT_FOUND');
    // Nothing journaled for the other tenant (read under its tenant: row-level security), and nothing issued.
    const journal = await withTenant(h.service.runtimeDb, other, (tx) =>
      tx.selectFrom('effect_intents').select('id').execute(),
    );
    expect(journal).toEqual([]);
    expect(await sentBy('journaled_by_claim')).toBe(sent);
  });

  /** A claim's item as the gateway sends it, journaling `entry` if the context's digest is `ctxHash`. */
  const claimItem = (t: string, key: string, entry: string, ctxHash: string) => ({
    tenant: t,
    scope: 'POST /key-credentials',
    key,
    hash: 'h',
    prepared: { pins: [], journal: entry },
    claimMs: 10_000,
    context: { property: propertyId, rooms: ['101'] },
    journal: {
      id: entry,
      type: 'credential',
      actor: entry,
      intent: { intent: 'sendMessage', operationId: entry, to: { type: 'credential', id: entry }, event: {} },
      claimMs: 30_000,
      ctxHash,
    },
  });

  it("the claim's statement journals under the claim's tenant only, and a taken-over claim finds its entry pending", async () => {
    const key = randomUUID();
    const read = await claimIdempotencyKey(h.service.runtimeDb, {
      ...claimItem(tenant, key, `cmd:probe:${key}`, 'none'),
    });
    // The digest did not match: nothing journaled, the context returned with its digest.
    expect(read).toMatchObject({ claimed: true, journaled: false });
    const digest = read?.ctx_hash as string;
    expect(digest).toMatch(/^[0-9a-f]{32}$/);

    // Another tenant naming this property with its digest: the property is not its own, so the context it
    // reads is another (no property) and nothing is journaled.
    const foreign = await claimIdempotencyKey(
      h.service.runtimeDb,
      claimItem(other, randomUUID(), `cmd:x:${key}`, digest),
    );
    expect(foreign).toMatchObject({ claimed: true, journaled: false });
    expect((foreign?.ctx as { property: unknown }).property).toBeNull();

    const fresh = randomUUID();
    const entry = `cmd:probe:${fresh}`;
    expect(
      await claimIdempotencyKey(h.service.runtimeDb, claimItem(tenant, fresh, entry, digest)),
    ).toMatchObject({
      claimed: true,
      journaled: true,
      ctx: null,
    });
    // The claim lapses (its request's process died): the retry taking it over finds the entry pending and
    // journals nothing of its own.
    await withTenant(h.service.runtimeDb, tenant, (tx) =>
      tx
        .updateTable('idempotency_keys')
        .set({ claimed_until: new Date(0) })
        .where('key', '=', fresh)
        .execute(),
    );
    expect(
      await claimIdempotencyKey(h.service.runtimeDb, claimItem(tenant, fresh, entry, digest)),
    ).toMatchObject({
      claimed: true,
      taken_over: true,
      journal_pending: true,
      journaled: false,
    });
  });
});
