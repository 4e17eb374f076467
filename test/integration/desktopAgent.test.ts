/**
 * The desktop agent on real NATS with a line encoder on a real serial pair: it says hello, encodes what a
 * command asks and answers with a message signed by its device key; the same operation sent again is
 * answered from its journal and never written twice; an encoder with no card in time and a malformed command
 * are answered with their reason. The renderer's IPC surface sees the same.
 */
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { agentIpc } from '../../src/agent/ipc.ts';
import { type AgentMessage, verifyMessage } from '../../src/desktop/envelope.ts';
import { openSerialLink } from '../../src/io/encoders/link.ts';
import {
  type LineEncoderSimulator,
  startLineEncoderSimulator,
} from '../../src/io/encoders/simulators/lineEncoderSimulator.ts';
import { wiegandFormats } from '../../src/io/encoders/wiegand.ts';
import { NATS_URL, uniqueId } from '../support/harness.ts';
import { deskConfig, encodeCommand } from '../support/deskAgent.ts';
import { type SerialPair, serialPair } from '../support/serialPair.ts';

describe('desktop agent', () => {
  const root = `t${uniqueId()}.lock.desktop`;
  const prefix = `${root}.p1.a1`;
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-agent-'));
  let pair: SerialPair;
  let sim: LineEncoderSimulator;
  let agent: RunningAgent;
  let nc: NatsConnection;
  let events: Subscription;
  const received: AgentMessage[] = [];

  beforeAll(async () => {
    pair = await serialPair();
    sim = startLineEncoderSimulator(await openSerialLink(pair.a), { autoFeed: true });
    nc = await connect({ servers: NATS_URL });
    events = nc.subscribe(`${prefix}.evt.>`);
    void (async () => {
      for await (const m of events) {
        const r = verifyMessage(m.data, {
          subject: m.subject,
          agent: { propertyId: 'p1', publicKey: agent?.publicKey ?? '', status: 'active' },
          now: new Date(),
        });
        if (r.ok) received.push(r.message);
        else received.push({ name: `REFUSED:${r.refusal}` } as AgentMessage);
      }
    })();
    await nc.flush();
    agent = await startAgent(
      deskConfig({
        agentId: 'a1',
        propertyId: 'p1',
        dir,
        subjectRoot: root,
        serialPath: pair.b,
        encoderId: 'desk-1',
      }),
    );
  });
  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await sim?.close();
    await pair?.close();
  });

  const encode = (operationId: string, cardNumber: number, timeoutMs = 5000) =>
    nc.publish(
      `${prefix}.cmd.encode`,
      encodeCommand(operationId, { facilityCode: 7, cardNumber }, timeoutMs),
    );
  const answerTo = (op: string, n = 1) =>
    expect
      .poll(() => received.filter((m) => (m.body as { operationId?: string })?.operationId === op), {
        timeout: 5000,
      })
      .toHaveLength(n);
  const answers = (op: string) =>
    received.filter((m) => (m.body as { operationId?: string })?.operationId === op);

  it('agent: says hello with its encoder, its key file private (0600)', async () => {
    await expect
      .poll(() => received.find((m) => m.name === 'hello')?.body)
      .toMatchObject({
        encoders: [{ id: 'desk-1', kind: 'line', model: 'SIM-LINE-1', online: true }],
        publicKey: agent.publicKey,
      });
    expect(statSync(path.join(dir, 'device.pem')).mode & 0o777).toBe(0o600);
  });

  it('agent: encodes on command, answers signed; the same operation again is answered, not written twice', async () => {
    encode('op-1', 1234);
    await answerTo('op-1');
    const [first] = answers('op-1');
    expect(first).toMatchObject({ name: 'card_encoded', body: { uid: expect.any(String), again: false } });
    expect(sim.state().written).toHaveLength(1);
    expect(wiegandFormats.H10301.decode(sim.state().written[0]?.bits ?? '')).toEqual({
      facilityCode: 7,
      cardNumber: 1234,
    });
    encode('op-1', 1234);
    await answerTo('op-1', 2);
    expect(answers('op-1')[1]).toMatchObject({
      name: 'card_encoded',
      body: { uid: (first?.body as { uid: string }).uid, again: true },
    });
    expect(sim.state().written).toHaveLength(1);
    expect(agentIpc(agent)['agent:status']()).toMatchObject({ encoded: 1, encoding: [], connected: true });
  });

  it('agent: no card in time and a malformed command are answered with their reason', async () => {
    sim.setFaults({ silent: true });
    encode('op-2', 99, 300);
    await answerTo('op-2');
    expect(answers('op-2')[0]).toMatchObject({
      name: 'encode_failed',
      body: { failure: 'TIMEOUT', retryable: true },
    });
    sim.setFaults({ silent: false });
    nc.publish(`${prefix}.cmd.encode`, JSON.stringify({ operationId: 'op-3', data: 'card 42' }));
    await expect
      .poll(() => received.find((m) => m.name === 'command_refused')?.body)
      .toMatchObject({ command: 'encode', reason: expect.any(String) });
    expect(received.filter((m) => m.name.startsWith('REFUSED'))).toEqual([]);
    expect(agentIpc(agent)['agent:status']()).toMatchObject({
      failed: 1,
      lastProblem: expect.stringContaining('TIMEOUT'),
    });
  });

  it('agent: reads and erases the card in the slot on command, answering signed', async () => {
    const byRequest = (id: string) =>
      received.find((m) => (m.body as { requestId?: string })?.requestId === id);
    sim.takeCard();
    encode('op-9', 4321);
    await answerTo('op-9');
    nc.publish(`${prefix}.cmd.read`, JSON.stringify({ requestId: 'r-1', timeoutMs: 2000 }));
    await expect
      .poll(() => byRequest('r-1'))
      .toMatchObject({ name: 'card_read', body: { format: 'H10301', encoderId: 'desk-1' } });
    nc.publish(`${prefix}.cmd.erase`, JSON.stringify({ requestId: 'e-1', timeoutMs: 2000 }));
    await expect
      .poll(() => byRequest('e-1'))
      .toMatchObject({ name: 'card_erased', body: { encoderId: 'desk-1' } });
    // Wiped: read again, it is blank.
    nc.publish(`${prefix}.cmd.read`, JSON.stringify({ requestId: 'r-2', timeoutMs: 2000 }));
    await expect
      .poll(() => byRequest('r-2'))
      .toMatchObject({ name: 'read_failed', body: { reason: expect.stringContaining('blank') } });
    nc.publish(`${prefix}.cmd.erase`, JSON.stringify({ requestId: 'e-2' }));
    await expect
      .poll(() => received.filter((m) => m.name === 'command_refused').map((m) => m.body))
      .toContainEqual(expect.objectContaining({ command: 'erase' }));
  });

  it("agent: a host's keychain keeps the device key instead of a file, the same key at every start", async () => {
    const kept = new Map<string, string>();
    const keyStore = {
      load: async () => kept.get('device') ?? null,
      save: async (pem: string) => void kept.set('device', pem),
    };
    const keyDir = mkdtempSync(path.join(tmpdir(), 'lock-agent-keychain-'));
    const config = deskConfig({ agentId: 'a2', propertyId: 'p1', dir: keyDir, subjectRoot: root });
    const first = await startAgent(config, { keyStore });
    await first.stop();
    const second = await startAgent(config, { keyStore });
    await second.stop();
    expect(kept.get('device')).toContain('PRIVATE KEY');
    expect(second.publicKey).toBe(first.publicKey);
    expect(existsSync(config.deviceKeyFile)).toBe(false);
  });
});
