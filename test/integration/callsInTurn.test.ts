/**
 * Vendor calls in the actor's turn: a new credential's issue, handed over in process by the effect runner (the
 * reservation's message, kept in PostgreSQL until the credential's commit releases it), calls the vendor before
 * its transition is committed, and one commit records the issue and the vendor's answer. No effect intent row is
 * ever written for that call. A message sent again (here by the effect sweeper) may have been applied in part by a turn that ended without its commit, so it runs no call in
 * its turn, and its calls look up before they create.
 *
 * The vendor here is strict the way Salto KS users are: a create without a lookup makes another credential,
 * so a call that should have looked up first shows as a second credential.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActorEnvelope } from '../../src/actors/index.ts';
import { journalMessage } from '../../src/io/db/batchedCalls.ts';
import { connect, type Db } from '../../src/io/db/index.ts';
import { prepareIssue } from '../../src/issuance/credentialRequests.ts';
import type { LockAdapter } from '../../src/io/vendors/port.ts';
import { capabilities as ttlock } from '../../src/io/vendors/ttlock/adapter.ts';
import type { ServiceSettings } from '../../src/service.ts';
import { type Client, connectClient } from '../support/client.ts';
import { eventually } from '../support/harness.ts';
import { harnessWithProperty, type PropertyWorld } from '../support/propertyWorld.ts';
import { confirmReservations } from '../support/reservations.ts';
import { stayDates } from '../support/stay.ts';

interface IssueCall {
  operationId: string;
  lookupFirst: boolean;
}

/** TTLock's capabilities, a create that is not idempotent, and a record of every issue call. */
function strictVendor(issueDelayMs = 0) {
  const calls: IssueCall[] = [];
  const made: { operationId: string; ref: string }[] = [];
  const adapter: LockAdapter = {
    vendor: 'ttlock',
    capabilities: () => ttlock,
    listLocks: async () => [],
    getLock: async (ref) => ({ ref, name: ref }),
    async issueCredential(req) {
      calls.push({ operationId: req.operationId, lookupFirst: req.lookupFirst });
      if (issueDelayMs > 0) await new Promise((r) => setTimeout(r, issueDelayMs));
      const found = req.lookupFirst ? made.find((m) => m.operationId === req.operationId) : undefined;
      if (found) return { vendorRef: found.ref };
      const ref = `strict-${made.length + 1}`;
      made.push({ operationId: req.operationId, ref });
      return { vendorRef: ref };
    },
    modifyValidity: async (req) => ({ outcome: 'modified', vendorRef: req.vendorRef ?? 'x' }),
    revokeCredential: async () => {},
    remoteUnlock: async () => {},
    getBattery: async () => 100,
    listAccessRecords: async () => [],
    health: async () => {},
  };
  return { adapter, calls, made };
}

/** Every effect intent row ever written, kept aside (rows are deleted by the commit that applies them). */
async function keepWrittenIntents(admin: Db): Promise<void> {
  await sql`create table written_intents (id text, actor_id text)`.execute(admin);
  await sql`create function keep_written_intent() returns trigger language plpgsql security definer as $$
    begin insert into written_intents values (new.id, new.actor_id); return new; end $$`.execute(admin);
  await sql`create trigger keep_written_intent after insert on effect_intents
    for each row execute function keep_written_intent()`.execute(admin);
}

const writtenIntents = async (admin: Db, actorId: string) =>
  (
    await sql<{ id: string }>`select id from written_intents where actor_id = ${actorId}`.execute(admin)
  ).rows.map((r) => r.id);

interface TurnWorld extends PropertyWorld {
  admin: Db;
  client: Client;
}

/**
 * For the describe it is called in: the service with calls in the turn on `vendor`, one property, a client to
 * publish platform events, and every effect intent row written kept aside.
 */
function turnWorld(vendor: ReturnType<typeof strictVendor>, over: Partial<ServiceSettings>): TurnWorld {
  const world = harnessWithProperty({
    adapterFactories: { ttlock: () => vendor.adapter },
    callsInTurn: true,
    ...over,
  }) as TurnWorld;
  beforeAll(async () => {
    world.admin = connect(world.h.databaseUrl, { max: 1 });
    await keepWrittenIntents(world.admin);
    world.client = await connectClient(world.h.settings);
  });
  afterAll(async () => {
    await world.client?.close();
    await world.admin?.destroy();
  });
  return world;
}

/** The credential of reservation `res-0`, once active. */
const firstStayActive = (w: TurnWorld, timeoutMs: number) =>
  eventually(
    () =>
      w.admin
        .selectFrom('key_credentials')
        .select(['id', 'status', 'grants'])
        .where('reservation_id', '=', 'res-0')
        .executeTakeFirst()
        .then((r) => (r?.status === 'active' ? r : undefined)),
    timeoutMs,
  );

/** A credential's audited transitions, in order: its event and version. */
async function auditOf(w: TurnWorld, id: string): Promise<[string, number][]> {
  const { rows } = await sql<{ entry: string }>`
    select entry from audit_log where tenant_id = ${w.tenantId} order by seq`.execute(w.admin);
  return rows
    .map((r) => JSON.parse(r.entry) as { actor: string; event: string; version: number })
    .filter((e) => e.actor === `credential/${id}`)
    .map((e) => [e.event, e.version]);
}

describe('vendor calls in the actor turn', () => {
  const vendor = strictVendor();
  // A claim on a message long enough for a call in its turn (the harness's 2 s would not leave one).
  const world = turnWorld(vendor, { effectClaimMs: 30_000 });
  const stay = stayDates();

  const issueOf = async (): Promise<ActorEnvelope['event']> => {
    const { event } = await prepareIssue(
      world.h.service.issuance,
      {
        tenantId: world.tenantId,
        propertyId: world.propertyId,
        reservationId: null,
        holder: { kind: 'guest', ref: 'g1' },
        kind: 'pin',
        rooms: ['101'],
        areas: [],
        validFrom: stay.checkIn,
        validUntil: stay.checkOut,
      },
      new Date().toISOString(),
    );
    return event as unknown as ActorEnvelope['event'];
  };
  const activeCredential = (id: string) =>
    eventually(async () => {
      const r = await world.admin
        .selectFrom('key_credentials')
        .select(['status', 'grants'])
        .where('id', '=', id)
        .executeTakeFirst();
      return r?.status === 'active' ? r : undefined;
    }, 10_000);

  it("in turn: a reservation's new credential calls its vendor once, without a lookup, and commits issue and answer together", async () => {
    await confirmReservations(world.client, world.tenantId, world.propertyId, 1, 1);
    const { id } = await firstStayActive(world, 10_000);
    const row = await activeCredential(id);
    const mine = vendor.calls.filter((c) => c.operationId.startsWith(id));
    expect(mine).toEqual([{ operationId: mine[0]?.operationId, lookupFirst: false }]);
    expect((row.grants as { vendorRef: string }[]).map((g) => g.vendorRef)).toEqual([
      vendor.made.find((m) => m.operationId === mine[0]?.operationId)?.ref,
    ]);
    // One commit, two transitions: both audited, in order, versions 1 and 2.
    expect(await auditOf(world, id)).toEqual([
      ['credential.issue', 1],
      ['effect.done.issueGrant', 2],
    ]);
    const snapshot = await world.admin
      .selectFrom('actor_snapshots')
      .select('version')
      .where('actor_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(Number(snapshot.version)).toBe(2);
    // The vendor call never had an intent row (the only rows for this credential were none: its message's row is
    // the reservation's).
    expect(await writtenIntents(world.admin, id)).toEqual([]);
  });

  it('sent again: a message a sweeper sends again runs no call in its turn, and its call looks up first', async () => {
    const id = randomUUID();
    const intentId = `cmd:credential:${id}:${id}:issue`;
    const event = await issueOf();
    // Journaled, never sent, and its claim already lapsed: as after a crash, the sweeper sends it again.
    await journalMessage(world.h.service.runtimeDb, {
      tenant: world.tenantId,
      id: intentId,
      type: 'credential',
      actor: id,
      intent: { intent: 'sendMessage', operationId: `${id}:issue`, to: { type: 'credential', id }, event },
      claimMs: 1,
    });
    await activeCredential(id);
    const calls = vendor.calls.filter((c) => c.operationId.startsWith(id));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ lookupFirst: true });
    expect(vendor.made.filter((m) => m.operationId.startsWith(id))).toHaveLength(1);
    // Issue and answer committed one after the other; the call had its intent row.
    expect(await auditOf(world, id)).toEqual([
      ['credential.issue', 1],
      ['effect.done.issueGrant', 2],
    ]);
    const written = await writtenIntents(world.admin, id);
    expect(written).toContain(intentId);
    expect(written.filter((w) => w !== intentId)).toHaveLength(1);
  });
});

describe('vendor calls in the actor turn: only while the message claim can be kept', () => {
  const vendor = strictVendor();
  // A 1 s claim on the reservation's message, swept every 0.5 s: it could lapse before a sweep renews it, and
  // a sweeper's resend then reach another process while the call runs.
  const world = turnWorld(vendor, { effectClaimMs: 1000, sweepEveryMs: 500 });

  it('a claim that could lapse unrenewed: the issue commits first, and its call runs after with a row of its own', async () => {
    await confirmReservations(world.client, world.tenantId, world.propertyId, 1, 1);
    const { id } = await firstStayActive(world, 10_000);
    expect((await auditOf(world, id)).map(([, version]) => version)).toEqual([1, 2]);
    // The issue's call had a row of its own (the credential's, version 1), and was a first run (no lookup), once.
    expect(await writtenIntents(world.admin, id)).toEqual([
      expect.stringMatching(new RegExp(`^credential:${id}:1:`)),
    ]);
    expect(vendor.calls.filter((c) => c.operationId.startsWith(id))).toEqual([
      { operationId: expect.stringContaining(id), lookupFirst: false },
    ]);
  });
});

describe('vendor calls in the actor turn: the message claim is kept while the call runs', () => {
  // A call over two claims long: without the claim kept, the sweeper would claim the message again and send it.
  const vendor = strictVendor(7000);
  const world = turnWorld(vendor, { effectClaimMs: 3000, sweepEveryMs: 300 });

  beforeAll(async () => {
    // Every claim of an effect intent row, kept aside: a sweeper's claim counts `runs` up.
    await sql`create table intent_claims (id text, runs int)`.execute(world.admin);
    await sql`create function keep_intent_claim() returns trigger language plpgsql security definer as $$
      begin insert into intent_claims values (new.id, new.runs); return new; end $$`.execute(world.admin);
    await sql`create trigger keep_intent_claim after update of runs on effect_intents
      for each row execute function keep_intent_claim()`.execute(world.admin);
  });

  it('kept: the message is not claimed again during a call over two claims long, made once, in the turn', async () => {
    await confirmReservations(world.client, world.tenantId, world.propertyId, 1, 1);
    const { id } = await firstStayActive(world, 20_000);
    // The reservation's message to this credential was never claimed again.
    const claims = await sql<{ id: string }>`
      select c.id from intent_claims c join written_intents w on w.id = c.id
       where w.id like 'reservation:%'`.execute(world.admin);
    expect(claims.rows).toEqual([]);
    // In the turn: the call never had a row.
    expect(await writtenIntents(world.admin, id)).toEqual([]);
    expect(vendor.calls.filter((c) => c.operationId.startsWith(id))).toEqual([
      { operationId: expect.stringContaining(id), lookupFirst: false },
    ]);
    expect((await auditOf(world, id)).map(([event]) => event)).toEqual([
      'credential.issue',
      'effect.done.issueGrant',
    ]);
  });
});
