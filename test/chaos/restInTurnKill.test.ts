/**
 * Crash safety of a REST issue journaled by its idempotency claim and called in its credential's turn, with a
 * real process: the runtime is `kill -9`ed after TTLock made the passcode and before the credential's commit
 * recorded it (the simulator holds its answer back). What brings the credential back is the journal entry the
 * claim's statement wrote: a new process's sweeper sends it again, its call looks up first and adopts the
 * passcode, with no retry from the caller. The caller's retry under the same key then answers that credential
 * and the PIN the lock holds; the lock holds one passcode per credential.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verifyChain.ts';
import { signDevToken } from '../../src/gateway/auth.ts';
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
    ttlock = await startTtlockSimulator({ lockCount: 1 });
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

  const credentials = () =>
    client.admin
      .selectFrom('key_credentials')
      .select(['id', 'status', 'grants'])
      .orderBy('created_at')
      .execute();

  it('the journaled issue comes back without the caller; its retry answers the PIN on the door, once', async () => {
    const { propertyId } = await seedProperty(client, tenantId, { '101': '7001' });
    // The first issue reads the room's context with its claim; the second plans from it and is journaled.
    const first = await issue(propertyId, randomUUID(), 'guest-1');
    expect(first.status).toBe(201);

    ttlock.setFaults({ gatewayMs: 60_000 });
    const key = randomUUID();
    const pending = issue(propertyId, key, 'guest-2').catch(() => null);
    await eventually(
      async () => ttlock.state().credentials.length === 2 || undefined,
      20_000,
      'the second passcode',
    );
    // Journaled by the claim, and nothing of the credential recorded yet: the call ran in its turn.
    const { rows: journal } = await sql<{ id: string }>`
      select id from effect_intents where tenant_id = ${tenantId} and id like 'cmd:credential:%'`.execute(
      client.admin,
    );
    expect(journal).toHaveLength(1);
    expect(await credentials()).toHaveLength(1);

    await runtime?.kill9();
    expect(await pending).toBeNull();
    ttlock.setFaults({ gatewayMs: 0 });
    runtime = await spawnRuntime(settings, 'rest-in-turn-1', { port, authSecret });

    // No retry yet: the sweeper's resend brings the credential back, adopting the passcode made before the kill.
    const both = await eventually(
      async () => {
        const rows = await credentials();
        return rows.length === 2 && rows.every((r) => r.status === 'active') ? rows : undefined;
      },
      40_000,
      'both credentials active',
    );
    const sim = ttlock.state().credentials;
    expect(sim).toHaveLength(2);
    const refs = both.flatMap((c) => (c.grants as { vendorRef: string }[]).map((g) => g.vendorRef));
    expect(new Set(refs)).toEqual(new Set(sim.map((c) => c.ref)));

    // The caller's retry under the same key: the same credential, and the PIN its passcode holds.
    const retried = await eventually(
      async () => {
        const r = await issue(propertyId, key, 'guest-2');
        return r.status === 201 ? ((await r.json()) as Issued) : undefined;
      },
      20_000,
      'the retry answered',
    );
    const second = both.find((c) => c.id === retried.id);
    expect(second?.status).toBe('active');
    const ref = (second?.grants as { vendorRef: string }[])[0]?.vendorRef;
    expect(sim.find((c) => c.ref === ref)?.pin).toBe(retried.pin);
    expect(ttlock.state().credentials).toHaveLength(2);
    const issuedEvents = await client.eventsOn(`${client.topology.eventsRoot}.key_credential.issued.v1`);
    expect(issuedEvents).toHaveLength(2);
    expect(await verifyAuditChain(client.admin, tenantId)).toMatchObject({ ok: true });
  });
});
