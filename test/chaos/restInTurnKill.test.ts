/**
 * Crash safety of a REST issue journaled by its idempotency claim and called in its credential's turn, with a
 * real process: the runtime is `kill -9`ed after TTLock made the passcode and before the credential's commit
 * recorded it (the simulator holds its answer back). What brings the credential back is the journal entry the
 * claim's statement wrote: a new process's sweeper sends it again, its call looks up first and adopts the
 * passcode, with no retry from the caller. The caller's retry under the same key then answers that credential
 * and the PIN the lock holds; a retry that takes the key's claim over before the sweeper waits for that
 * entry rather than plan and send the issue again. The lock holds one passcode per credential.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verifyChain.ts';
import { signDevToken } from '../../src/gateway/auth.ts';
import { idempotentCredentialId } from '../../src/ids.ts';
import { startTtlockSimulator, type TtlockSimulator } from '../../src/io/vendors/ttlock/index.ts';
import type { ServiceSettings } from '../../src/service.ts';
import { type Client, connectClient } from '../support/client.ts';
import { seedProperty } from '../support/fixtures.ts';
import { dropDatabase, dropNats, eventually, freePort, uniqueId } from '../support/harness.ts';
import { type RuntimeProcess, spawnRuntime } from '../support/processes.ts';
import { takeoverSettings } from '../support/reservations.ts';

describe('crash safety: kill -9 between a REST issue call in the turn and its commit', () => {
  const tenantId = `tenant-${uniqueId()}`;
  const authSecret = randomBytes(32);
  let ttlock: TtlockSimulator;
  let settings: ServiceSettings;
  let client: Client;
  let runtime: RuntimeProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    ttlock = await startTtlockSimulator({ lockCount: 2 });
    settings = {
      ...takeoverSettings(uniqueId(), ttlock.url),
      effectTimeoutMs: 120_000,
      effectClaimMs: 8_000,
      idempotencyClaimMs: 4_000,
      callsInTurn: true,
    };
    port = await freePort();
    runtime = await spawnRuntime(settings, 'rest-in-turn-0', { port, authSecret });
    client = await connectClient(settings);
  });

  afterAll(async () => {
    await runtime?.stop();
    await client?.close();
    await ttlock?.close();
    await dropNats(settings.prefix);
    await dropDatabase(settings.databaseUrl);
  });

  // One stay for every request: a retry's body is the first attempt's.
  const stay = {
    from: new Date(Date.now() - 3_600_000).toISOString(),
    until: new Date(Date.now() + 86_400_000).toISOString(),
  };

  interface Issued {
    id: string;
    status: string;
    pin?: string;
  }

  async function issue(propertyId: string, key: string, guest: string): Promise<Response> {
    return fetch(`http://127.0.0.1:${port}/api/v1/key-credentials`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await signDevToken(authSecret, tenantId)}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify({
        propertyId,
        holder: { kind: 'guest', ref: guest },
        kind: 'pin',
        rooms: ['101'],
        validFrom: stay.from,
        validUntil: stay.until,
      }),
    });
  }

  async function read(id: string): Promise<Issued> {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/key-credentials/${id}`, {
      headers: { authorization: `Bearer ${await signDevToken(authSecret, tenantId)}` },
    });
    expect(r.status).toBe(200);
    return (await r.json()) as Issued;
  }

  const credentials = () =>
    client.admin
      .selectFrom('key_credentials')
      .select(['id', 'status', 'grants'])
      .orderBy('created_at')
      .execute();

  /**
   * A first issue on the room (its claim reads the context), then a second, planned from it and journaled by
   * its claim, whose passcode TTLock makes at once and whose answer it holds; the process is killed then and a
   * new one started as `name`. Answers the second request's key and credential id.
   */
  async function killMidIssue(propertyId: string, name: string): Promise<{ key: string; id: string }> {
    expect((await issue(propertyId, randomUUID(), 'guest-1')).status).toBe(201);
    const before = ttlock.state().credentials.length;
    ttlock.setFaults({ gatewayMs: 60_000 });
    const key = randomUUID();
    const id = idempotentCredentialId(tenantId, key);
    const pending = issue(propertyId, key, 'guest-2').then(
      (r) => r.status,
      () => null,
    );
    await eventually(
      async () => ttlock.state().credentials.length === before + 1 || undefined,
      20_000,
      'the passcode',
    );
    // Journaled by the claim, nothing of the credential recorded: the call runs in its turn. Its id (known to
    // a caller from a 202) reads as requested, not as unknown.
    const { rows: journal } = await sql<{ id: string }>`
      select id from effect_intents where tenant_id = ${tenantId} and id like ${`cmd:credential:${id}:%`}`.execute(
      client.admin,
    );
    expect(journal).toHaveLength(1);
    expect((await credentials()).map((c) => c.id)).not.toContain(id);
    expect((await read(id)).status).toBe('requested');
    await runtime?.kill9();
    // No answer, or a 202 if the wait budget ran out before the kill.
    expect([null, 202]).toContain(await pending);
    ttlock.setFaults({ gatewayMs: 0 });
    runtime = await spawnRuntime(settings, name, { port, authSecret });
    return { key, id };
  }

  /** The caller's retry under `key` until it answers 201 (a 202 replayed until its credential settles). */
  const retryUntilIssued = (propertyId: string, key: string) =>
    eventually(
      async () => {
        const r = await issue(propertyId, key, 'guest-2');
        return r.status === 201 ? ((await r.json()) as Issued) : undefined;
      },
      40_000,
      'the retry answered 201',
    );

  /** Every credential active, each holding one of the lock's passcodes and the lock no other. */
  async function oneVendorPasscodeEach(): Promise<{ id: string; grants: unknown }[]> {
    const all = await eventually(
      async () => {
        const rows = await credentials();
        return rows.every((r) => r.status === 'active') ? rows : undefined;
      },
      40_000,
      'every credential active',
    );
    const refs = all.flatMap((c) => (c.grants as { vendorRef: string }[]).map((g) => g.vendorRef));
    expect(refs).toHaveLength(all.length);
    expect(new Set(refs)).toEqual(new Set(ttlock.state().credentials.map((c) => c.ref)));
    return all;
  }

  const pinOf = (c: { grants: unknown } | undefined) =>
    ttlock.state().credentials.find((x) => x.ref === (c?.grants as { vendorRef: string }[])[0]?.vendorRef)
      ?.pin;

  it('the journaled issue comes back without the caller; its retry answers the PIN on the door', async () => {
    const { propertyId } = await seedProperty(client, tenantId, { '101': '7001' });
    const { key, id } = await killMidIssue(propertyId, 'rest-in-turn-1');
    // No retry yet: the sweeper's resend brings the credential back, adopting the passcode made before the kill.
    await eventually(
      async () => (await credentials()).some((c) => c.id === id && c.status === 'active') || undefined,
      40_000,
      'the credential back',
    );
    const all = await oneVendorPasscodeEach();
    expect(all).toHaveLength(2);
    const retried = await retryUntilIssued(propertyId, key);
    expect(retried.id).toBe(id);
    expect(pinOf(all.find((c) => c.id === id))).toBe(retried.pin);
    expect(ttlock.state().credentials).toHaveLength(2);
  });

  it('a retry that takes the claim over before the sweeper waits for the journaled issue, never plans it anew', async () => {
    const { propertyId } = await seedProperty(client, tenantId, { '101': '7002' });
    // The claim lapses at 4 s, the journal entry's at 8 s: the retry, sent at once, takes the claim over first.
    const { key, id } = await killMidIssue(propertyId, 'rest-in-turn-2');
    // The property changes before the retry (its adapter no longer takes new issues): planned anew, the retry
    // would be refused while the crashed turn's passcode is on the door. It waits for the journaled issue.
    const disabled = await fetch(
      `http://127.0.0.1:${port}/api/v1/properties/${propertyId}/vendor-adapters/ttlock`,
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${await signDevToken(authSecret, tenantId)}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ status: 'disabled', config: {} }),
      },
    );
    expect(disabled.status).toBe(200);
    const retried = await retryUntilIssued(propertyId, key);
    expect(retried.id).toBe(id);
    const all = await oneVendorPasscodeEach();
    expect(all).toHaveLength(4);
    expect(pinOf(all.find((c) => c.id === id))).toBe(retried.pin);
    const issuedEvents = await client.eventsOn(`${client.topology.eventsRoot}.key_credential.issued.v1`);
    expect(issuedEvents).toHaveLength(4);
    expect(new Set(issuedEvents.map((e) => e.aggregateId)).size).toBe(4);
    expect(await verifyAuditChain(client.admin, tenantId)).toMatchObject({ ok: true });
  });
});
