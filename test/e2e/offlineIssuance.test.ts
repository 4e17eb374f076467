/**
 * Offline issuance end to end: a desk agent on a real serial pair holds a certificate, then loses the service
 * (NATS and HTTP cut at the network), issues 50 provisional cards — each written by its encoder — and, once
 * the service is back, pushes them: all 50 become credentials with their own ids, active, each issued exactly
 * once (one `issued` event each), and pushing them all again changes nothing. A revoked desk's offline cards
 * are rejected with the reason, which the desk shows, and it drops its certificate.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey, type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { agentIpc } from '../../src/agent/ipc.ts';
import { LocalMirror, mirrorKey } from '../../src/agent/mirror.ts';
import { signMessage } from '../../src/desktop/envelope.ts';
import { openSerialLink } from '../../src/io/encoders/link.ts';
import {
  type LineEncoderSimulator,
  startLineEncoderSimulator,
} from '../../src/io/encoders/simulators/lineEncoderSimulator.ts';
import { wiegandFormats } from '../../src/io/encoders/wiegand.ts';
import { type CuttableLink, cuttableLink } from '../support/cuttableLink.ts';
import { deskConfig, deskDoors } from '../support/deskAgent.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { type SerialPair, serialPair } from '../support/serialPair.ts';

interface Desk {
  agent: RunningAgent;
  agentId: string;
  dir: string;
  pair: SerialPair;
  sim: LineEncoderSimulator;
  nats: CuttableLink;
  http: CuttableLink;
}

describe('offline issuance at the desk', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let auth: Record<string, string>;
  let propertyId: string;
  let serviceUrl: URL;
  const desks: Desk[] = [];
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const rooms = Array.from({ length: 52 }, (_, i) => `5${String(i).padStart(2, '0')}`);
  const hour = 3_600_000;

  const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    gw.app.inject({ method, url: `/api/v1${url}`, headers: auth, ...(payload ? { payload } : {}) });
  const issuedEvents = async () => {
    const subject = `${h.service.topology.eventsRoot}.key_credential.issued.v1`;
    const info = await h.service.jsm.streams.info(h.service.topology.eventsStream, {
      subjects_filter: subject,
    });
    return info.state.subjects?.[subject] ?? 0;
  };

  /** A desk enrolled, with its own encoder, reaching the service only through links the test can cut. */
  async function desk(name: string): Promise<Desk> {
    const dir = mkdtempSync(path.join(tmpdir(), `lock-offline-${name}-`));
    const key = loadOrCreateDeviceKey(path.join(dir, 'device.pem'));
    const enrolled = await api('POST', `/properties/${propertyId}/agents`, {
      name,
      publicKey: key.publicKey,
    });
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    const agentId = enrolled.json().id as string;
    const pair = await serialPair();
    const sim = startLineEncoderSimulator(await openSerialLink(pair.a), { autoFeed: true });
    const nats = await cuttableLink({ host: '127.0.0.1', port: 4222 });
    const http = await cuttableLink({ host: serviceUrl.hostname, port: Number(serviceUrl.port) });
    const agent = await startAgent({
      ...deskConfig({
        agentId,
        propertyId,
        dir,
        serialPath: pair.b,
        nats: { servers: `nats://${nats.address}`, subjectRoot: h.service.topology.desktopRoot },
        sync: { url: `http://${http.address}`, syncEveryMs: 300 },
      }),
      offlineEncodeTimeoutMs: 5000,
    });
    const d = { agent, agentId, dir, pair, sim, nats, http };
    desks.push(d);
    // Online first: a certificate, and the property's card format with it.
    await expect
      .poll(() => agent.store.getSnapshot().context.certificate?.serial, { timeout: 10_000 })
      .toBeTruthy();
    return d;
  }
  async function goOffline(d: Desk) {
    d.nats.cut();
    d.http.cut();
    await expect.poll(() => d.agent.store.getSnapshot().context.connected, { timeout: 10_000 }).toBe(false);
  }
  const cardFor = (i: number) => ({
    rooms: [rooms[i] as string],
    validFrom: new Date(Date.now() - hour).toISOString(),
    validUntil: new Date(Date.now() + 48 * hour).toISOString(),
    holderRef: `guest-${i}`,
    cardNumber: String(20_000 + i),
  });

  beforeAll(async () => {
    h = await startHarness({}, { 'generic-wiegand': { format: 'H10301', facilityCode: 12 } });
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
    serviceUrl = new URL(await gw.app.listen({ port: 0, host: '127.0.0.1' }));
    auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    ({ propertyId } = await seedProperty(h.service, tenantId, {}));
    await deskDoors(gw.app, auth, propertyId, { facilityCode: 12, rooms });
  });
  afterAll(async () => {
    for (const d of desks) {
      await d.agent.stop();
      await d.sim.close();
      await d.pair.close();
      await d.nats.close();
      await d.http.close();
    }
    await gw?.app.close();
    await h?.close();
  });

  it('offline: 50 cards issued with the service out of reach are all reconciled once it is back, each exactly once', async () => {
    const d = await desk('desk-1');
    const ipc = agentIpc(d.agent);
    await goOffline(d);

    const issued = [];
    for (let i = 0; i < 50; i++) {
      const r = await ipc['agent:issueOffline'](cardFor(i));
      if (!r.ok) throw new Error(`${r.problem}: ${r.reason}`);
      expect(r.card).toMatchObject({ status: 'provisional', state: 'encoded', outcome: 'pending' });
      issued.push(r.card.id);
    }
    // Each card written at the desk holds its number; the service knows of none yet.
    const written = d.sim.state().written;
    expect(written).toHaveLength(50);
    expect(wiegandFormats.H10301.decode(written[7]?.bits ?? '')).toEqual({
      facilityCode: 12,
      cardNumber: 20_007,
    });
    expect((await api('GET', `/key-credentials?propertyId=${propertyId}&limit=100`)).json().items).toEqual(
      [],
    );
    expect(d.agent.store.getSnapshot().context.offline.pending).toBe(50);

    d.nats.restore();
    d.http.restore();
    await expect
      .poll(() => d.agent.provisional().filter((p) => p.outcome === 'accepted').length, { timeout: 30_000 })
      .toBe(50);
    for (const id of issued) {
      const c = await api('GET', `/key-credentials/${id}`);
      expect(c.json()).toMatchObject({
        id,
        status: 'active',
        kind: 'card',
        grants: [{ vendor: 'generic-wiegand' }],
      });
    }
    const listed = (await api('GET', `/key-credentials?propertyId=${propertyId}&limit=100`)).json().items;
    expect(listed.map((c: { id: string }) => c.id).sort()).toEqual([...issued].sort());
    await expect.poll(issuedEvents, { timeout: 10_000 }).toBe(50);
    expect(d.agent.store.getSnapshot().context.offline).toMatchObject({
      pending: 0,
      accepted: 50,
      rejected: 0,
    });
    expect(new Set(d.agent.provisional().map((p) => p.status))).toEqual(new Set(['active']));

    // Every record pushed again (a lost answer, a replay): the same answers, nothing applied twice.
    await d.agent.stop();
    desks.splice(desks.indexOf(d), 1);
    const key = loadOrCreateDeviceKey(path.join(d.dir, 'device.pem'));
    const mirror = await LocalMirror.open(
      path.join(d.dir, 'journal.jsonl.mirror'),
      mirrorKey(key, d.agentId),
    );
    const entries = mirror.provisional();
    const items = entries.map((e) => ({
      issuance: e.record,
      certificate: mirror.certificate(e.record.certificateSerial),
      uid: e.uid,
    }));
    mirror.close();
    const versions = await Promise.all(
      issued.map(async (id) => (await api('GET', `/key-credentials/${id}`)).json().version),
    );
    const again = await gw.app.inject({
      method: 'POST',
      url: '/sync/v1/push',
      payload: signMessage(key, {
        agentId: d.agentId,
        propertyId,
        name: 'push',
        boot: '99',
        seq: 1,
        at: new Date().toISOString(),
        body: { items: items.slice(0, 50) },
      }),
    });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json().results.map((r: { outcome: string }) => r.outcome)).toEqual(
      Array(50).fill('accepted'),
    );
    const after = await Promise.all(
      issued.map(async (id) => (await api('GET', `/key-credentials/${id}`)).json().version),
    );
    expect(after).toEqual(versions);
    expect(await issuedEvents()).toBe(50);
    await Promise.all([d.sim.close(), d.pair.close(), d.nats.close(), d.http.close()]);
  });

  it("offline: a revoked desk's offline cards are rejected with the reason the desk shows, and it drops its certificate", async () => {
    const d = await desk('desk-2');
    await goOffline(d);
    const ipc = agentIpc(d.agent);
    const cards = [];
    for (const i of [50, 51]) {
      const r = await ipc['agent:issueOffline'](cardFor(i));
      if (!r.ok) throw new Error(`${r.problem}: ${r.reason}`);
      cards.push(r.card.id);
    }
    expect((await api('POST', `/agents/${d.agentId}/revoke`, { reason: 'desk PC stolen' })).statusCode).toBe(
      200,
    );
    d.nats.restore();
    d.http.restore();
    await expect
      .poll(() => d.agent.provisional().map((p) => [p.outcome, p.reason?.split(':')[0]]), { timeout: 30_000 })
      .toEqual([
        ['rejected', 'AGENT_REVOKED'],
        ['rejected', 'AGENT_REVOKED'],
      ]);
    for (const id of cards) expect((await api('GET', `/key-credentials/${id}`)).statusCode).toBe(404);
    await expect
      .poll(() => d.agent.store.getSnapshot().context.revoked, { timeout: 10_000 })
      .toEqual(expect.any(String));
    // Without a certificate it issues nothing more.
    const refused = await ipc['agent:issueOffline'](cardFor(51));
    expect(refused).toMatchObject({ ok: false, problem: 'NO_CERTIFICATE' });
  });
});
