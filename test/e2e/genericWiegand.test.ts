/**
 * generic-wiegand end to end: a desk agent enrolled through REST (its key made on the desk), a door
 * registered by the desk's register-lock flow, and a card credential issued through REST is encoded by the
 * agent's encoder on a real serial pair — the simulator holds card data that decodes to the card number —
 * and becomes active. With no card presented it fails with the reason; once the agent is revoked, its
 * messages are refused and nothing is encoded for it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentConfig,
  loadOrCreateDeviceKey,
  type RunningAgent,
  startAgent,
} from '../../src/agent/agent.ts';
import { openSerialLink } from '../../src/io/encoders/link.ts';
import {
  type LineEncoderSimulator,
  startLineEncoderSimulator,
} from '../../src/io/encoders/simulators/lineEncoderSimulator.ts';
import { wiegandFormats } from '../../src/io/encoders/wiegand.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { deskConfig } from '../support/deskAgent.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';
import { type SerialPair, serialPair } from '../support/serialPair.ts';

describe('generic-wiegand through the desk agent', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let pair: SerialPair;
  let sim: LineEncoderSimulator;
  let agent: RunningAgent;
  let auth: Record<string, string>;
  let propertyId: string;
  let agentId: string;
  let agentConfig: AgentConfig;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-desk-'));

  const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    gw.app.inject({ method, url: `/api/v1${url}`, headers: auth, ...(payload ? { payload } : {}) });
  const issueCard = (cardNumber: string) =>
    gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'guest-1' },
        kind: 'card',
        rooms: ['301'],
        cardNumber,
        validFrom: new Date(Date.now() - 3_600_000).toISOString(),
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      },
    });

  beforeAll(async () => {
    h = await startHarness(
      {},
      { 'generic-wiegand': { format: 'H10301', facilityCode: 7, encodeTimeoutMs: 500 } },
    );
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
    auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    ({ propertyId } = await seedProperty(h.service, tenantId, { '101': '7001' }));
    const adapter = await api('PUT', `/properties/${propertyId}/vendor-adapters/generic-wiegand`, {
      status: 'active',
      config: { format: 'H10301', facilityCode: 7 },
    });
    expect(adapter.statusCode, adapter.body).toBe(200);
    const policy = await api('PUT', `/properties/${propertyId}/key-kind-policy`, {
      card: { preferredOrder: ['generic-wiegand'] },
    });
    expect(policy.statusCode, policy.body).toBe(200);
    const door = await api('POST', `/properties/${propertyId}/generic-wiegand/locks`, { roomId: '301' });
    expect(door.statusCode, door.body).toBe(201);
    expect(door.json()).toMatchObject({
      vendor: 'generic-wiegand',
      vendorDeviceRef: expect.stringMatching(/^wg-/),
    });

    // The desk makes its key; the operator enrols its public half.
    const keyFile = path.join(dir, 'device.pem');
    const key = loadOrCreateDeviceKey(keyFile);
    const enrolled = await api('POST', `/properties/${propertyId}/agents`, {
      name: 'desk-1',
      publicKey: key.publicKey,
    });
    expect(enrolled.statusCode, enrolled.body).toBe(201);
    agentId = enrolled.json().id;
    pair = await serialPair();
    sim = startLineEncoderSimulator(await openSerialLink(pair.a), { autoFeed: true });
    agentConfig = deskConfig({
      agentId,
      propertyId,
      dir,
      subjectRoot: h.service.topology.desktopRoot,
      serialPath: pair.b,
      heartbeatMs: 200,
    });
    agent = await startAgent(agentConfig);
    await eventually(async () =>
      (await h.service.desktop.connectedAgent(tenantId, propertyId)) ? true : undefined,
    );
  });
  afterAll(async () => {
    await agent?.stop();
    await sim?.close();
    await pair?.close();
    await gw?.app.close();
    await h?.close();
  });

  it('generic-wiegand: a card issued through REST is encoded at the desk and is active; its data is the card number', async () => {
    const r = await issueCard('4242');
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json()).toMatchObject({ status: 'active', vendor: 'generic-wiegand' });
    const written = sim.state().written;
    expect(written).toHaveLength(1);
    expect(wiegandFormats.H10301.decode(written[0]?.bits ?? '')).toEqual({
      facilityCode: 7,
      cardNumber: 4242,
    });
    expect(r.json().grants[0].vendorRef).toBe(`card-${written[0]?.uid}`);
    // A number the format cannot carry is refused for good, with the reason.
    const big = await issueCard('99999999');
    const failed = await eventually(async () => {
      const v = (await api('GET', `/key-credentials/${big.json().id}`)).json();
      return v.status === 'failed' ? v : undefined;
    });
    expect(failed.failure.reason).toMatch(/card number must be 0–65535/);
  });

  it("generic-wiegand: LOCK_DESKTOP keeps the agents' messages, never the commands that carry card data", async () => {
    const root = h.service.topology.desktopRoot;
    const info = await h.service.jsm.streams.info(h.service.topology.desktopStream, {
      subjects_filter: `${root}.>`,
    });
    const subjects = Object.keys(info.state.subjects ?? {});
    expect(subjects.some((s) => s.endsWith('.evt.card_encoded'))).toBe(true);
    expect(subjects.filter((s) => s.includes('.cmd.'))).toEqual([]);
  });

  it('generic-wiegand: a credential over two doors is one card (its number opens both controllers)', async () => {
    const door = await api('POST', `/properties/${propertyId}/generic-wiegand/locks`, { roomId: '302' });
    expect(door.statusCode, door.body).toBe(201);
    const before = sim.state().written.length;
    const r = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/key-credentials',
      headers: { ...auth, 'idempotency-key': randomUUID() },
      payload: {
        propertyId,
        holder: { kind: 'guest', ref: 'guest-2' },
        kind: 'card',
        rooms: ['301', '302'],
        cardNumber: '7777',
        validFrom: new Date(Date.now() - 3_600_000).toISOString(),
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      },
    });
    expect(r.statusCode, r.body).toBe(201);
    const grants = r.json().grants as { vendorRef: string; status: string }[];
    expect(grants.map((g) => g.status)).toEqual(['active', 'active']);
    expect(new Set(grants.map((g) => g.vendorRef)).size).toBe(1);
    expect(sim.state().written.length).toBe(before + 1);
  });

  it('generic-wiegand: no card presented at the desk fails the credential with the reason', async () => {
    // The hopper is empty and nobody presents a card.
    sim.setFaults({ noCard: true });
    const r = await issueCard('5151');
    const id = r.json().id;
    let last: unknown;
    const v = await eventually(async () => {
      const now = (await api('GET', `/key-credentials/${id}`)).json();
      last = now;
      return now.status === 'failed' ? now : undefined;
    }).catch((e) => {
      throw new Error(`${e}: ${JSON.stringify(last)}`);
    });
    expect(v.failure.reason).toMatch(/TIMEOUT/);
    // Each attempt was called off at the encoder: nothing was written, so nothing is left to revoke.
    expect(v.grants[0].status).toBe('revoked');
    sim.setFaults({ noCard: false });
  });

  it('generic-wiegand: a message of an earlier start of the agent, replayed, is refused', async () => {
    const subject = `${h.service.topology.desktopRoot}.${propertyId}.${agentId}.evt.heartbeat`;
    const sub = h.service.nc.subscribe(subject, { max: 1 });
    let captured: Uint8Array | null = null;
    for await (const m of sub) captured = m.data;
    await agent.stop();
    agent = await startAgent(agentConfig);
    await eventually(async () =>
      (await h.service.desktop.connectedAgent(tenantId, propertyId)) ? true : undefined,
    );
    const before = h.service.desktop.refused.get('REPLAYED') ?? 0;
    h.service.nc.publish(subject, captured ?? new Uint8Array());
    await expect.poll(() => h.service.desktop.refused.get('REPLAYED') ?? 0).toBe(before + 1);
  });

  it('generic-wiegand: a revoked agent is refused: nothing is encoded for it', async () => {
    expect((await api('POST', `/agents/${agentId}/revoke`, { reason: 'laptop stolen' })).json().status).toBe(
      'revoked',
    );
    const before = sim.state().written.length;
    const r = await issueCard('6161');
    let last: unknown;
    const v = await eventually(async () => {
      const now = (await api('GET', `/key-credentials/${r.json().id}`)).json();
      last = now;
      return now.status === 'failed' ? now : undefined;
    }).catch((e) => {
      throw new Error(`${e}: ${JSON.stringify(last)}`);
    });
    expect(v.failure.reason).toMatch(/no desk agent of this property is connected/);
    expect(sim.state().written.length).toBe(before);
    expect(h.service.desktop.refused.get('REVOKED_AGENT')).toBeGreaterThan(0);
  });
});
