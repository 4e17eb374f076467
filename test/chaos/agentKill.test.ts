/**
 * `kill -9` of the desk agent (a process of its own) while its encoder waits for a card, then a restart: the
 * operation is encoded once. If the clerk presented the card while the agent was down, the encoder wrote it
 * for the operation: the restarted agent learns so from the encoder and answers the command sent again with
 * that card, writing nothing more. If not, the write is called off, and the command sent again writes one card.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentMessage, deviceKeyFromPem, verifyMessage } from '../../src/desktop/envelope.ts';
import { openSerialLink } from '../../src/io/encoders/link.ts';
import {
  type LineEncoderSimulator,
  startLineEncoderSimulator,
} from '../../src/io/encoders/simulators/lineEncoderSimulator.ts';
import { wiegandFormats } from '../../src/io/encoders/wiegand.ts';
import { eventually, NATS_URL, uniqueId } from '../support/harness.ts';
import { killNine } from '../support/processes.ts';
import { deskConfig, encodeCommand } from '../support/deskAgent.ts';
import { type SerialPair, serialPair } from '../support/serialPair.ts';

describe('desk agent killed mid-encode', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-agent-kill-'));
  const root = `t${uniqueId()}.lock.desktop`;
  const prefix = `${root}.p1.desk-9`;
  const configFile = path.join(dir, 'agent.json');
  let pair: SerialPair;
  let sim: LineEncoderSimulator;
  let nc: NatsConnection;
  let agent: ChildProcess | null = null;
  const received: AgentMessage[] = [];

  const startAgentProcess = async () => {
    const hellos = received.filter((m) => m.name === 'hello').length;
    agent = spawn(process.execPath, ['--import', 'tsx', 'src/agent/main.ts', '--config', configFile], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await eventually(async () =>
      received.filter((m) => m.name === 'hello').length > hellos ? true : undefined,
    );
  };
  const killAgent = () => killNine(agent);
  const encode = (operationId: string, cardNumber: number) =>
    nc.publish(`${prefix}.cmd.encode`, encodeCommand(operationId, { facilityCode: 3, cardNumber }, 60_000));
  const answersTo = (op: string) =>
    received.filter((m) => (m.body as { operationId?: string }).operationId === op);

  beforeAll(async () => {
    pair = await serialPair();
    sim = startLineEncoderSimulator(await openSerialLink(pair.a), { autoFeed: false });
    writeFileSync(
      configFile,
      JSON.stringify(
        deskConfig({ agentId: 'desk-9', propertyId: 'p1', dir, subjectRoot: root, serialPath: pair.b }),
      ),
    );
    nc = await connect({ servers: NATS_URL });
    const sub = nc.subscribe(`${prefix}.evt.>`);
    void (async () => {
      for await (const m of sub) {
        // The key file is made by the agent at its first start: read when its first message comes.
        const publicKey = deviceKeyFromPem(readFileSync(path.join(dir, 'device.pem'), 'utf8')).publicKey;
        const r = verifyMessage(m.data, {
          subject: m.subject,
          agent: { propertyId: 'p1', publicKey, status: 'active' },
          now: new Date(),
        });
        if (r.ok) received.push(r.message);
      }
    })();
    await nc.flush();
    await startAgentProcess();
  }, 60_000);
  afterAll(async () => {
    await killAgent();
    await nc?.close();
    await sim?.close();
    await pair?.close();
  });

  it('agent kill -9: the card presented while the agent was down is the operation card, written once', async () => {
    encode('op-a', 1001);
    await expect.poll(() => sim.state().commands.filter((c) => c === 'ENC').length).toBe(1);
    await killAgent();
    const uid = sim.insertCard();
    expect(sim.state().written).toHaveLength(1);
    await startAgentProcess();
    encode('op-a', 1001);
    await expect.poll(() => answersTo('op-a').length, { timeout: 10_000 }).toBe(1);
    expect(answersTo('op-a')[0]).toMatchObject({ name: 'card_encoded', body: { uid, again: true } });
    expect(sim.state().written).toHaveLength(1);
  }, 60_000);

  it('agent kill -9: a write called off while the agent was down is written once when the command comes again', async () => {
    sim.takeCard();
    encode('op-b', 1002);
    await expect.poll(() => sim.state().commands.filter((c) => c === 'ENC').length).toBe(2);
    await killAgent();
    await startAgentProcess();
    // Nothing waits for a card at the encoder any more: a card given now is written for nothing.
    sim.insertCard();
    expect(sim.state().written).toHaveLength(1);
    encode('op-b', 1002);
    await expect.poll(() => answersTo('op-b').length, { timeout: 10_000 }).toBe(1);
    expect(answersTo('op-b')[0]).toMatchObject({ name: 'card_encoded', body: { again: false } });
    const written = sim.state().written;
    expect(written.map((w) => wiegandFormats.H10301.decode(w.bits ?? '').cardNumber)).toEqual([1001, 1002]);
  }, 60_000);
});
