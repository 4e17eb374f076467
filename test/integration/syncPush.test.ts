/**
 * `/sync/v1/push` and `/sync/v1/pull` against a real service: a desk's provisional card, signed under its
 * certificate, becomes the credential with the same id, active without a vendor call; pushed again it gets
 * the same answer and changes nothing; every broken link of the chain, a scope overstepped, a room let
 * meanwhile, a revoked agent or certificate is rejected with its reason and creates nothing. The pull gives
 * the mirror and the revocation list, a cursor at a time.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeviceKey, generateDeviceKey, signMessage } from '../../src/desktop/envelope.ts';
import { issueCertificate } from '../../src/desktop/certificates.ts';
import { type ProvisionalIssuance, signProvisional } from '../../src/desktop/provisional.ts';
import { createReconciler } from '../../src/desktop/reconciliation.ts';
import { buildGateway } from '../../src/gateway/app.ts';
import { createDevAuthenticator } from '../../src/gateway/auth.ts';
import { systemClock } from '../../src/ids.ts';
import { localOfflineSigner } from '../../src/io/crypto/offlineSigner.ts';
import { gatewayPorts } from '../../src/service.ts';
import { connect, withTenant } from '../../src/io/db/index.ts';
import { cleanOfflineCertificates } from '../../src/jobs/offlineCertCleanup.ts';
import { deskDoors } from '../support/deskAgent.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, NATS_URL, startHarness } from '../support/harness.ts';

interface Desk {
  agentId: string;
  key: DeviceKey;
  certificate: Record<string, unknown>;
  seq: number;
}

describe('/sync/v1/push and /sync/v1/pull', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let auth: Record<string, string>;
  let propertyId: string;
  let desk: Desk;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const hour = 3_600_000;

  const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    gw.app.inject({ method, url: `/api/v1${url}`, headers: auth, ...(payload ? { payload } : {}) });

  async function enroll(name: string): Promise<Desk> {
    const { key } = generateDeviceKey();
    const r = await api('POST', `/properties/${propertyId}/agents`, { name, publicKey: key.publicKey });
    expect(r.statusCode, r.body).toBe(201);
    const d: Desk = { agentId: r.json().id, key, certificate: {}, seq: 0 };
    const now = new Date().toISOString();
    const hs = await gw.app.inject({
      method: 'POST',
      url: '/sync/v1/handshake',
      payload: signMessage(key, {
        agentId: d.agentId,
        propertyId,
        name: 'handshake',
        boot: '1',
        seq: ++d.seq,
        at: now,
        body: { clock: now },
      }),
    });
    expect(hs.statusCode, hs.body).toBe(200);
    expect(hs.json().cardFormat).toEqual({ format: 'H10301', facilityCode: 7 });
    d.certificate = hs.json().certificate;
    return d;
  }

  const record = (d: Desk, over: Partial<Omit<ProvisionalIssuance, 'sig'>> = {}): ProvisionalIssuance =>
    signProvisional(d.key, {
      v: 1,
      id: randomUUID(),
      agentId: d.agentId,
      propertyId,
      certificateSerial: String(d.certificate.serial),
      kind: 'card',
      rooms: ['301'],
      validFrom: new Date(Date.now() - hour).toISOString(),
      validUntil: new Date(Date.now() + 24 * hour).toISOString(),
      issuedAt: new Date().toISOString(),
      reservationId: null,
      holderRef: 'guest-1',
      cardNumber: '4242',
      ...over,
    });
  const item = (d: Desk, issuance: ProvisionalIssuance, certificate = d.certificate) => ({
    issuance,
    certificate,
    uid: '04A1B2C3',
  });
  const push = (d: Desk, items: unknown[], key = d.key, app = gw.app) =>
    app.inject({
      method: 'POST',
      url: '/sync/v1/push',
      payload: signMessage(key, {
        agentId: d.agentId,
        propertyId,
        name: 'push',
        boot: '1',
        seq: ++d.seq,
        at: new Date().toISOString(),
        body: { items },
      }),
    });
  const pull = (d: Desk, cursor?: string) =>
    gw.app.inject({
      method: 'GET',
      url: `/sync/v1/pull${cursor ? `?cursor=${cursor}` : ''}`,
      headers: {
        'x-lock-agent-request': Buffer.from(
          JSON.stringify(
            signMessage(d.key, {
              agentId: d.agentId,
              propertyId,
              name: 'pull',
              boot: '1',
              seq: ++d.seq,
              at: new Date().toISOString(),
              body: { cursor: cursor ?? null },
            }),
          ),
        ).toString('base64url'),
      },
    });
  const credential = async (id: string) => {
    const r = await api('GET', `/key-credentials/${id}`);
    return r.statusCode === 404 ? null : r.json();
  };
  const recordedCount = async () =>
    (
      await withTenant(h.service.runtimeDb, tenantId, (tx) =>
        tx
          .selectFrom('provisional_issuances')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow(),
      )
    ).n;

  beforeAll(async () => {
    h = await startHarness({}, { 'generic-wiegand': { format: 'H10301', facilityCode: 7 } });
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
    auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    ({ propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' }));
    await deskDoors(gw.app, auth, propertyId, { facilityCode: 7, rooms: ['301', '302', '303', '304'] });
    desk = await enroll('desk-1');
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('push: a provisional card becomes the credential with the same id, active, and a push sent again changes nothing', async () => {
    const p = record(desk);
    const first = await push(desk, [item(desk, p)]);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().results).toEqual([{ id: p.id, outcome: 'accepted', status: 'active' }]);
    const c = await credential(p.id);
    expect(c).toMatchObject({
      id: p.id,
      status: 'active',
      kind: 'card',
      rooms: ['301'],
      grants: [{ vendor: 'generic-wiegand', vendorRef: 'card-04A1B2C3', status: 'active' }],
    });
    // Sent again (a lost answer): the same answer, and the credential is as it was.
    const again = await push(desk, [item(desk, p)]);
    expect(again.json().results).toEqual([{ id: p.id, outcome: 'accepted', status: 'active' }]);
    expect((await credential(p.id)).version).toBe(c.version);
    // Every field of an answer is in the route's schema (an undeclared one would be dropped on the way out).
    const spec = (await gw.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const answer =
      spec.paths['/sync/v1/push'].post.responses['200'].content['application/json'].schema.properties.results
        .items.properties;
    expect(Object.keys(answer).sort()).toEqual(['changes', 'id', 'outcome', 'reason', 'retry', 'status']);
  });

  it("push: a record changed after signing, a forged certificate and another desk's certificate are rejected, and nothing is created", async () => {
    const before = await recordedCount();
    const tampered = { ...record(desk), cardNumber: '9999' };
    const forger = localOfflineSigner();
    const forged = await issueCertificate(forger, {
      ...(desk.certificate as unknown as Parameters<typeof issueCertificate>[1]),
    });
    const other = await enroll('desk-2');
    const r = await push(desk, [
      item(desk, tampered),
      item(desk, record(desk), forged as unknown as Record<string, unknown>),
      item(desk, record(desk, { certificateSerial: String(other.certificate.serial) }), other.certificate),
    ]);
    expect(r.statusCode, r.body).toBe(200);
    expect(
      r.json().results.map((x: { outcome: string; reason: string }) => [x.outcome, x.reason.split(':')[0]]),
    ).toEqual([
      ['rejected', 'BAD_SIGNATURE'],
      ['rejected', 'CERTIFICATE_BAD_SIGNATURE'],
      ['rejected', 'CERTIFICATE_NOT_THIS_AGENT'],
    ]);
    expect(await credential(tampered.id)).toBeNull();
    expect(await recordedCount()).toBe(before);
  });

  it('push: out of scope, a room without a desk lock, a room let meanwhile and a second record under one id are rejected with the reason', async () => {
    const tooLong = record(desk, { validUntil: new Date(Date.now() + 100 * hour).toISOString() });
    const ttlockRoom = record(desk, { rooms: ['101'] });
    const relet = record(desk, { holderRef: 'guest-2' }); // 301 is guest-1's (first test)
    const partly = record(desk, { holderRef: 'guest-3', rooms: ['301', '302'] });
    const original = record(desk, { rooms: ['303'], holderRef: 'guest-4' });
    const r = await push(
      desk,
      [tooLong, ttlockRoom, relet, partly, original].map((p) => item(desk, p)),
    );
    const results = r.json().results as { outcome: string; reason?: string; changes?: unknown[] }[];
    expect(results.map((x) => [x.outcome, x.reason?.split(':')[0]])).toEqual([
      ['rejected', 'OUT_OF_SCOPE'],
      ['rejected', 'NOT_A_DESK_ROOM'],
      ['rejected', 'ROOM_RELET'],
      ['accepted_with_changes', undefined],
      ['accepted', undefined],
    ]);
    expect(results[3]?.changes).toEqual([
      expect.objectContaining({ field: 'rooms', from: ['301', '302'], to: ['302'] }),
    ]);
    expect((await credential(partly.id)).rooms).toEqual(['302']);
    // Another record under an id already decided: refused, the first decision stands.
    const conflicting = record(desk, { id: original.id, rooms: ['303'], holderRef: 'guest-5' });
    const c = await push(desk, [item(desk, conflicting)]);
    expect(c.json().results[0]).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/^REPLAY_CONFLICT/),
    });
    expect((await credential(original.id)).holder.ref).toBe('guest-4');
  });

  it('push: malformed items are rejected one by one; an unsigned or wrongly signed push is refused whole', async () => {
    const good = record(desk, { rooms: ['302'], holderRef: 'guest-3' });
    const r = await push(desk, [{ nonsense: true }, { issuance: { id: 'x' } }, item(desk, good)]);
    expect(r.json().results.map((x: { outcome: string; id: string | null }) => [x.id, x.outcome])).toEqual([
      [null, 'rejected'],
      ['x', 'rejected'],
      [good.id, 'accepted'],
    ]);
    const forged = await push(desk, [item(desk, record(desk))], generateDeviceKey().key);
    expect([forged.statusCode, forged.json().detail]).toEqual([
      401,
      expect.stringContaining('BAD_SIGNATURE'),
    ]);
    const unsigned = await gw.app.inject({ method: 'POST', url: '/sync/v1/push', payload: { items: [] } });
    expect(unsigned.statusCode).toBe(400);
  });

  it('push: a changed record never gets through (property over mutations of a signed item)', async () => {
    const base = item(desk, record(desk, { rooms: ['303'], holderRef: 'guest-4' }));
    const fields = [
      'id',
      'agentId',
      'propertyId',
      'certificateSerial',
      'rooms',
      'validFrom',
      'validUntil',
      'issuedAt',
      'holderRef',
      'cardNumber',
      'sig',
    ] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string())),
        async (field, value) => {
          const changed = { ...base, issuance: { ...base.issuance, [field]: value } };
          const r = await push(desk, [changed]);
          expect(r.statusCode).toBe(200);
          expect(r.json().results[0].outcome).toBe('rejected');
        },
      ),
      { numRuns: 60 },
    );
  });

  it("push: a revoked agent's and a revoked certificate's records are rejected with the reason, and recorded", async () => {
    const revokedDesk = await enroll('desk-3');
    const p = record(revokedDesk, { rooms: ['302'], holderRef: 'guest-3' });
    expect(
      (await api('POST', `/agents/${revokedDesk.agentId}/revoke`, { reason: 'laptop stolen' })).statusCode,
    ).toBe(200);
    const r = await push(revokedDesk, [item(revokedDesk, p)]);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json().results[0]).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/^AGENT_REVOKED/),
    });
    expect(await credential(p.id)).toBeNull();
    // The pull is refused for it: a revoked desk learns it from the answer.
    expect((await pull(revokedDesk)).statusCode).toBe(403);

    const d4 = await enroll('desk-4');
    await h.service.offline.certificates.revoke(tenantId, String(d4.certificate.serial), 'test');
    const q = await push(d4, [item(d4, record(d4, { rooms: ['302'], holderRef: 'guest-3' }))]);
    expect(q.json().results[0]).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/^CERTIFICATE_REVOKED/),
    });
  });

  it('push: two desks pushing cards for one room at once: one is accepted, the other rejected as let, and staff see it', async () => {
    const other = await enroll('desk-6');
    const a = record(desk, { rooms: ['304'], holderRef: 'guest-a' });
    const b = record(other, { rooms: ['304'], holderRef: 'guest-b' });
    const [ra, rb] = await Promise.all([push(desk, [item(desk, a)]), push(other, [item(other, b)])]);
    const outcomes = [ra.json().results[0], rb.json().results[0]].map(
      (r: { outcome: string; reason?: string }) => `${r.outcome} ${r.reason?.split(':')[0] ?? ''}`.trim(),
    );
    expect(outcomes.sort()).toEqual(['accepted', 'rejected ROOM_RELET']);
    const loser = ra.json().results[0].outcome === 'accepted' ? b : a;
    const rejected = (
      await api('GET', `/properties/${propertyId}/provisional-issuances?outcome=rejected`)
    ).json().items as Record<string, unknown>[];
    expect(rejected.find((r) => r.id === loser.id)).toMatchObject({
      uid: '04A1B2C3',
      rooms: ['304'],
      reason: expect.stringMatching(/^ROOM_RELET/),
    });
    // What staff read has no card number.
    expect(rejected.every((r) => !('cardNumber' in r) && !('card_number_sealed' in r))).toBe(true);
  });

  it("pull: the mirror of the property's credentials and the revocation list, a cursor at a time", async () => {
    // Changes of transactions still running anywhere wait for the next pull (a commit may land below them).
    let page: { cursor: string; credentials: { rooms: string[] }[]; crl: { reason: string }[] } = {
      cursor: '',
      credentials: [],
      crl: [],
    };
    await expect
      .poll(
        async () => {
          page = (await pull(desk)).json();
          return [page.credentials.length, page.crl.some((c) => c.reason === 'revoked')];
        },
        { timeout: 10_000 },
      )
      .toEqual([5, true]); // the five accepted above, and the revoked certificates
    expect(page.credentials[0]).not.toHaveProperty('secret');
    expect(page.credentials.map((c: { rooms: string[] }) => c.rooms).flat()).toContain('301');
    // From its cursor, nothing new until something changes.
    const next = await pull(desk, page.cursor);
    expect(next.json()).toMatchObject({ credentials: [], crl: [], more: false });

    // A change whose transaction began first and commits last is not skipped: while it is open, nothing after
    // it is sent either; once it commits, both are.
    const first = (page.credentials[0] as unknown as { id: string }).id;
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let changed = () => {};
    const updated = new Promise<void>((resolve) => {
      changed = resolve;
    });
    const late = withTenant(h.service.runtimeDb, tenantId, async (tx) => {
      await sql`update key_credentials set status = status where id = ${first}`.execute(tx);
      changed();
      await held;
    });
    await updated;
    const fresh = record(desk, { rooms: ['303'], holderRef: 'guest-4' });
    expect((await push(desk, [item(desk, fresh)])).json().results[0]).toMatchObject({ outcome: 'accepted' });
    expect((await pull(desk, page.cursor)).json().credentials).toEqual([]);
    release();
    await late;
    await expect
      .poll(async () =>
        (await pull(desk, page.cursor))
          .json()
          .credentials.map((c: { id: string }) => c.id)
          .sort(),
      )
      .toEqual([first, fresh.id].sort());
    const badCursor = await pull(desk, 'not-a-cursor');
    expect(badCursor.statusCode).toBe(400);
  });

  it('revocation list: one certificate revoked through REST, and the cleanup job listing expired ones and archiving old ones', async () => {
    const d5 = await enroll('desk-5');
    const serial = String(d5.certificate.serial);
    const wrongAgent = await api('POST', `/agents/${desk.agentId}/certificates/${serial}/revoke`, {
      reason: 'x',
    });
    expect(wrongAgent.statusCode).toBe(404);
    const revoked = await api('POST', `/agents/${d5.agentId}/certificates/${serial}/revoke`, {
      reason: 'lost',
    });
    expect([revoked.statusCode, revoked.json()]).toEqual([
      200,
      { serial, agentId: d5.agentId, revoked: true },
    ]);
    expect(await h.service.offline.certificates.status(tenantId, serial)).toEqual({
      agentId: d5.agentId,
      crlReason: 'revoked',
    });

    // A day and a half later every certificate above has ended: the job lists the still-open ones as expired.
    const owner = connect(h.databaseUrl, { max: 1 });
    try {
      const later = new Date(Date.now() + 36 * hour);
      const listed = await cleanOfflineCertificates({ db: owner, clock: { now: () => later } });
      expect(listed.listed).toBeGreaterThan(0);
      expect(listed.archived).toBe(0);
      expect(
        await h.service.offline.certificates.status(tenantId, String(desk.certificate.serial)),
      ).toMatchObject({
        crlReason: 'expired',
      });
      // Run again: nothing more to do.
      expect(await cleanOfflineCertificates({ db: owner, clock: { now: () => later } })).toEqual({
        listed: 0,
        archived: 0,
      });
      // Pulled once the list's horizon has passed (an entry's commit may follow its stamp).
      let crl: { serial: string }[] = [];
      await expect
        .poll(
          async () => {
            crl = (await h.service.offline.certificates.crlSince(tenantId, propertyId, null)).serials;
            return crl.map((c) => c.serial);
          },
          { timeout: 10_000 },
        )
        .toContain(String(desk.certificate.serial));
      // A month on, they leave the list the desks pull (kept for a late push).
      const month = new Date(Date.now() + 40 * 24 * hour);
      const archived = await cleanOfflineCertificates({ db: owner, clock: { now: () => month } });
      expect(archived.archived).toBe(crl.length);
      expect((await h.service.offline.certificates.crlSince(tenantId, propertyId, null)).serials).toEqual([]);
    } finally {
      await owner.destroy();
    }
  });

  // Last: its reservation's PIN credential would join the mirror the pull test counts.
  it('push: a reservation cancelled while its card is decided is rejected as cancelled, not accepted', async () => {
    const reservationId = `res-${randomUUID().slice(0, 8)}`;
    const nc = await natsConnect({ servers: NATS_URL });
    const platform = (name: string, body: Record<string, unknown>) => {
      const eventId = randomUUID();
      return jetstream(nc).publish(
        `${h.service.topology.platformRoot}.reservation.${name}.v1`,
        JSON.stringify({ eventId, tenantId, propertyId, reservationId, ...body }),
        { msgID: eventId },
      );
    };
    const stay = () => h.service.readModel.reservationStay(tenantId, reservationId);
    try {
      await platform('confirmed', {
        guestRef: 'guest-9',
        rooms: ['101'],
        checkIn: new Date(Date.now() - hour).toISOString(),
        checkOut: new Date(Date.now() + 60 * 24 * hour).toISOString(),
      });
      await eventually(async () => ((await stay())?.propertyId ? true : undefined));
      // The reconciler reads the stay, and the reservation is cancelled right after: before the decision.
      const ports = gatewayPorts(h.service, createDevAuthenticator(randomBytes(32)), 5000, systemClock);
      const readModel = {
        ...h.service.readModel,
        async reservationStay(tenant: string, reservation: string) {
          const before = await h.service.readModel.reservationStay(tenant, reservation);
          if (reservation === reservationId) {
            await platform('cancelled', {});
            await eventually(async () => ((await stay())?.endReason === 'cancelled' ? true : undefined));
          }
          return before;
        },
      };
      const racing = await buildGateway({
        ...ports,
        offline: {
          ...ports.offline,
          reconciler: createReconciler({
            db: h.service.runtimeDb,
            readModel,
            issuance: h.service.issuance,
            secrets: h.service.secrets,
            mailbox: ports.mailbox,
            certificates: ports.offline.certificates,
            servicePublicKey: () => h.service.offline.signer.publicKeyPem(),
            clock: systemClock,
          }),
        },
      });
      try {
        // After every earlier card on the room ends: only the stay can reject it.
        const card = record(desk, {
          rooms: ['304'],
          reservationId,
          validFrom: new Date(Date.now() + 25 * hour).toISOString(),
          validUntil: new Date(Date.now() + 47 * hour).toISOString(),
        });
        const r = await push(desk, [item(desk, card)], desk.key, racing);
        expect(r.statusCode, r.body).toBe(200);
        const [result] = r.json().results as { outcome: string; reason?: string }[];
        expect([result?.outcome, result?.reason?.split(':')[0]]).toEqual([
          'rejected',
          'RESERVATION_CANCELLED',
        ]);
        expect(await credential(card.id)).toBeNull();
      } finally {
        await racing.close();
      }
    } finally {
      await nc.close();
    }
  });
});
