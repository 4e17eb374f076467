/**
 * `kill -9` of the desk agent (a process of its own, driven through its stdio IPC) while it issues a card
 * offline — signed and recorded, its encoder waiting for a card — then a restart. If the clerk presented the
 * card meanwhile, the encoder wrote it: the restarted agent learns so, keeps the card as written and, once the
 * service is reachable, it is reconciled into one active credential. If not, the write is called off: the
 * record is void, never pushed, and the service never hears of it. Nothing is lost, nothing doubled.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey } from '../../src/agent/agent.ts';
import type { ProvisionalView } from '../../src/agent/mirror.ts';
import type { AgentState } from '../../src/agent/state.ts';
import { withTenant } from '../../src/io/db/index.ts';
import { openSerialLink } from '../../src/io/encoders/link.ts';
import {
  type LineEncoderSimulator,
  startLineEncoderSimulator,
} from '../../src/io/encoders/simulators/lineEncoderSimulator.ts';
import { type CuttableLink, cuttableLink } from '../support/cuttableLink.ts';
import { killNine } from '../support/processes.ts';
import { deskConfig, deskDoors } from '../support/deskAgent.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, type Harness, startHarness } from '../support/harness.ts';
import { type SerialPair, serialPair } from '../support/serialPair.ts';

describe('desk agent killed mid offline issue', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let auth: Record<string, string>;
  let propertyId: string;
  let pair: SerialPair;
  let sim: LineEncoderSimulator;
  let http: CuttableLink;
  let agent: ChildProcess | null = null;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-offline-kill-'));
  const configFile = path.join(dir, 'agent.json');
  const replies = new Map<number, (m: { result?: unknown; error?: string }) => void>();
  let nextId = 0;
  const hour = 3_600_000;

  const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    gw.app.inject({ method, url: `/api/v1${url}`, headers: auth, ...(payload ? { payload } : {}) });
  /** One IPC call over the agent's stdin/stdout; a call the agent dies in never answers. */
  const call = <T>(channel: string, ...args: unknown[]) =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      replies.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.result as T)));
      agent?.stdin?.write(`${JSON.stringify({ id, channel, args })}\n`);
    });
  const status = () => call<AgentState>('agent:status');
  const provisional = () => call<ProvisionalView[]>('agent:provisional');

  const startAgentProcess = async () => {
    const p = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/agent/main.ts', '--config', configFile, '--ipc', 'stdio'],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    agent = p;
    const started = new Promise<void>((resolve) => {
      createInterface({ input: p.stdout as NodeJS.ReadableStream }).on('line', (line) => {
        const m = JSON.parse(line) as { reply?: number; msg?: string; result?: unknown; error?: string };
        if (m.msg === 'agent started') resolve();
        if (typeof m.reply === 'number') replies.get(m.reply)?.(m);
      });
    });
    await started;
  };
  const killAgent = () => killNine(agent);
  const card = (room: string, n: number) => ({
    rooms: [room],
    validFrom: new Date(Date.now() - hour).toISOString(),
    validUntil: new Date(Date.now() + 24 * hour).toISOString(),
    holderRef: `guest-${n}`,
    cardNumber: String(n),
  });
  const decided = async (id: string) =>
    withTenant(h.service.runtimeDb, tenantId, (tx) =>
      tx.selectFrom('provisional_issuances').select('outcome').where('id', '=', id).execute(),
    );

  beforeAll(async () => {
    h = await startHarness({}, { 'generic-wiegand': { format: 'H10301', facilityCode: 4 } });
    gw = await buildTestGateway(h, { waitBudgetMs: 5000 });
    const url = new URL(await gw.app.listen({ port: 0, host: '127.0.0.1' }));
    auth = { authorization: `Bearer ${await gw.token(tenantId)}` };
    ({ propertyId } = await seedProperty(h.service, tenantId, {}));
    await deskDoors(gw.app, auth, propertyId, { facilityCode: 4, rooms: ['601', '602'] });
    const key = loadOrCreateDeviceKey(path.join(dir, 'device.pem'));
    const enrolled = await api('POST', `/properties/${propertyId}/agents`, {
      name: 'desk-k',
      publicKey: key.publicKey,
    });
    const agentId = enrolled.json().id as string;
    pair = await serialPair();
    sim = startLineEncoderSimulator(await openSerialLink(pair.a), { autoFeed: false });
    http = await cuttableLink({ host: url.hostname, port: Number(url.port) });
    writeFileSync(
      configFile,
      JSON.stringify({
        ...deskConfig({
          agentId,
          propertyId,
          dir,
          serialPath: pair.b,
          subjectRoot: h.service.topology.desktopRoot,
          sync: { url: `http://${http.address}`, syncEveryMs: 300 },
        }),
        offlineEncodeTimeoutMs: 60_000,
      }),
    );
    await startAgentProcess();
    await eventually(async () => ((await status()).certificate ? true : undefined), 10_000, 'a certificate');
  }, 60_000);
  afterAll(async () => {
    await killAgent();
    await sim?.close();
    await pair?.close();
    await http?.close();
    await gw?.app.close();
    await h?.close();
  });

  it('offline kill -9: the card presented while the agent was down is kept as written and reconciled once', async () => {
    http.cut();
    void call('agent:issueOffline', card('601', 7001)).catch(() => {});
    await expect.poll(() => sim.state().commands.filter((c) => c === 'ENC').length).toBe(1);
    await killAgent();
    const uid = sim.insertCard();
    expect(sim.state().written).toHaveLength(1);
    await startAgentProcess();
    const [kept] = await provisional();
    expect(kept).toMatchObject({ rooms: ['601'], state: 'encoded', outcome: 'pending' });
    http.restore();
    await expect.poll(async () => (await provisional())[0]?.outcome, { timeout: 20_000 }).toBe('accepted');
    const c = (await api('GET', `/key-credentials/${kept?.id}`)).json();
    expect(c).toMatchObject({ status: 'active', grants: [{ vendorRef: `card-${uid}` }] });
    expect(await decided(kept?.id ?? '')).toEqual([{ outcome: 'accepted' }]);
    expect(sim.state().written).toHaveLength(1);
  }, 60_000);

  it('offline kill -9: a write called off while the agent was down leaves a void record the service never hears of', async () => {
    sim.takeCard();
    http.cut();
    void call('agent:issueOffline', card('602', 7002)).catch(() => {});
    await expect.poll(() => sim.state().commands.filter((c) => c === 'ENC').length).toBe(2);
    await killAgent();
    await startAgentProcess();
    // Nothing waits for a card at the encoder any more: a card given now is written for nothing.
    sim.insertCard();
    expect(sim.state().written).toHaveLength(1);
    const voided = (await provisional()).find((p) => p.rooms[0] === '602');
    expect(voided).toMatchObject({ state: 'void', outcome: null, problem: expect.any(String) });
    http.restore();
    await call('agent:sync');
    expect((await api('GET', `/key-credentials/${voided?.id}`)).statusCode).toBe(404);
    expect(await decided(voided?.id ?? '')).toEqual([]);
  }, 60_000);
});
