/**
 * The project's nats.conf on nats-server 2.9: a server of its own (own port, own store) loads it. The service
 * user sets up JetStream; desktop agents live in per-property accounts: an agent publishes its own events
 * (which reach the service and LOCK_DESKTOP) and receives its own commands, and nothing else: not the
 * service's traffic (`_INBOX.>`, `lock.>`), not another agent's or another property's subjects. LOCK_DESKTOP
 * is bounded; monitoring listens on loopback; a wrong password is refused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../src/agent/agent.ts';
import { deskConfig } from '../support/deskAgent.ts';
import { ensureStreams, topology } from '../../src/io/nats/index.ts';
import { DESKTOP_LIMITS } from '../../src/io/nats/streams.ts';
import { eventually, freePort } from '../support/harness.ts';
import { stayDates } from '../support/stay.ts';

describe('nats.conf', () => {
  let server: ChildProcess;
  let url: string;
  let store: string;
  const passwords = {
    service: 'svc-test-password',
    agent: 'agent-test-password',
    second: 'second-test-password',
    other: 'other-test-password',
  };
  let monitorUrl: string;

  beforeAll(async () => {
    store = mkdtempSync(path.join(tmpdir(), 'lock-nats-'));
    const [port, monitor] = [await freePort(), await freePort()];
    url = `nats://127.0.0.1:${port}`;
    monitorUrl = `http://127.0.0.1:${monitor}`;
    server = spawn(
      '/usr/sbin/nats-server',
      // No -a: the client port binds as the file says; the monitoring host must come from the file too.
      ['-c', 'nats.conf', '-p', `${port}`, '-m', `${monitor}`],
      {
        env: {
          ...process.env,
          LOCK_NATS_STORE_DIR: store,
          LOCK_SERVICE_NATS_PASSWORD: passwords.service,
          LOCK_AGENT_DEMO_PASSWORD: passwords.agent,
          LOCK_AGENT_SECOND_PASSWORD: passwords.second,
          LOCK_AGENT_OTHER_PASSWORD: passwords.other,
        },
        stdio: 'ignore',
      },
    );
    await eventually(
      () =>
        connect({ servers: url, user: 'lock-service', pass: passwords.service }).then(async (nc) => {
          await nc.close();
          return true;
        }),
      10_000,
      'nats-server with nats.conf',
    );
  });

  afterAll(() => {
    server?.kill();
    rmSync(store, { recursive: true, force: true });
  });

  it('nats.conf: the service user sets up JetStream and publishes to actor inboxes', async () => {
    const nc = await connect({ servers: url, user: 'lock-service', pass: passwords.service });
    const jsm = await jetstreamManager(nc);
    const t = topology('', 4);
    await ensureStreams(jsm, t, { platform: true });
    await new Kvm(nc).create(t.leaseBucket, { ttl: 5000, history: 1 });
    const ack = await jetstream(nc).publish(`${t.actorRoot}.0.credential.c1`, '{}');
    expect(ack.stream).toBe(t.actorsStream);
    await nc.close();
  });

  const agent = (user: string, pass: string, inboxPrefix: string) =>
    connect({ servers: url, user, pass, inboxPrefix, reconnect: false });

  /** Resolves with the permission error the server sends for a subscription, or null if none comes. */
  function refusedSubscription(nc: NatsConnection, subject: string): Promise<string | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 2000);
      void (async () => {
        for await (const s of nc.status())
          if (s.type === 'error' && /Permissions Violation/.test(String(s.error))) {
            clearTimeout(timer);
            resolve(String(s.error));
            return;
          }
      })();
      nc.subscribe(subject);
    });
  }

  it("nats.conf: a desktop agent's own events reach the service and LOCK_DESKTOP; its own commands reach it", async () => {
    const service = await connect({ servers: url, user: 'lock-service', pass: passwords.service });
    const jsm = await jetstreamManager(service);
    await ensureStreams(jsm, topology('', 4), { platform: false });
    const demo = await agent('agent-demo-property-demo-agent', passwords.agent, '_INBOX_demo-agent');
    const own = 'lock.desktop.demo-property.demo-agent.evt.encoded';
    const events = service.subscribe(own, { max: 1 });
    const commands = demo.subscribe('lock.desktop.demo-property.demo-agent.cmd.>', { max: 1 });
    await Promise.all([service.flush(), demo.flush()]);
    demo.publish(own, 'hello');
    for await (const m of events) expect(m.string()).toBe('hello');
    await eventually(async () =>
      (await jsm.streams.info('LOCK_DESKTOP')).state.messages >= 1 ? true : undefined,
    );
    service.publish('lock.desktop.demo-property.demo-agent.cmd.encode', 'card please');
    for await (const m of commands) expect(m.string()).toBe('card please');
    await demo.close();
    await service.close();
  });

  it('nats.conf: the desk agent itself, as its own NATS user, says hello to the service and answers its command', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lock-nats-agent-'));
    const service = await connect({ servers: url, user: 'lock-service', pass: passwords.service });
    const heard = service.subscribe('lock.desktop.demo-property.demo-agent.evt.>');
    const names: string[] = [];
    void (async () => {
      for await (const m of heard) names.push((m.json() as { name: string }).name);
    })();
    await service.flush();
    const desk = await startAgent(
      deskConfig({
        agentId: 'demo-agent',
        propertyId: 'demo-property',
        dir,
        nats: { servers: url, user: 'agent-demo-property-demo-agent', pass: passwords.agent },
      }),
    );
    try {
      await eventually(async () => (names.includes('hello') ? true : undefined), 5000, 'hello');
      // A stay ahead of now, as a desk is sent (the running agent reads it: fixed dates would pass).
      const stay = stayDates();
      service.publish(
        'lock.desktop.demo-property.demo-agent.cmd.encode',
        JSON.stringify({
          operationId: 'op-1',
          data: null,
          rooms: ['101'],
          validFrom: stay.checkIn,
          validUntil: stay.checkOut,
          timeoutMs: 1000,
        }),
      );
      // No encoder at this desk: refused, and the answer crosses back to the service's account.
      await eventually(async () => (names.includes('encode_failed') ? true : undefined), 5000, 'answer');
    } finally {
      await desk.stop();
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("nats.conf: an agent cannot subscribe to the service's traffic or another agent's subjects", async () => {
    for (const subject of [
      '_INBOX.>',
      '>',
      'lock.>',
      '$JS.API.>',
      'lock.desktop.demo-property.second-agent.cmd.>',
      'lock.desktop.other-property.front-desk.cmd.>',
      'lock.desktop.demo-property.*.cmd.>',
    ]) {
      const demo = await agent('agent-demo-property-demo-agent', passwords.agent, '_INBOX_demo-agent');
      expect(await refusedSubscription(demo, subject), subject).toMatch(/Permissions Violation/);
      await demo.close().catch(() => {});
    }
    const demo = await agent('agent-demo-property-demo-agent', passwords.agent, '_INBOX_demo-agent');
    await expect(
      jetstream(demo).publish('lock.actors.0.credential.c1', '{}', { timeout: 2000 }),
    ).rejects.toThrow(/Permissions Violation/);
    await demo.close().catch(() => {});
  });

  it("nats.conf: nothing of the service's account reaches an agent account but its own property's commands", async () => {
    const service = await connect({ servers: url, user: 'lock-service', pass: passwords.service });
    const other = await agent('agent-other-property-front-desk', passwords.other, '_INBOX_front-desk');
    const seen: string[] = [];
    // Everything the other property's agent may subscribe to: its own commands and its own inbox prefix.
    for (const subject of ['lock.desktop.other-property.front-desk.cmd.>', '_INBOX_front-desk.>'])
      void (async () => {
        for await (const m of other.subscribe(subject)) seen.push(m.subject);
      })();
    await other.flush();
    // The service's own traffic: a JetStream request (reply on its _INBOX), a demo-property command.
    const jsm = await jetstreamManager(service);
    await jsm.streams.info('LOCK_DESKTOP');
    service.publish('lock.desktop.demo-property.demo-agent.cmd.encode', 'not for you');
    service.publish('lock.desktop.other-property.front-desk.cmd.ping', 'for you');
    await service.flush();
    await eventually(async () => (seen.length > 0 ? true : undefined));
    await other.flush();
    expect(seen).toEqual(['lock.desktop.other-property.front-desk.cmd.ping']);
    await other.close();
    await service.close();
  });

  it('nats.conf: LOCK_DESKTOP is bounded and monitoring listens on loopback', async () => {
    const service = await connect({ servers: url, user: 'lock-service', pass: passwords.service });
    const info = await (await jetstreamManager(service)).streams.info('LOCK_DESKTOP');
    expect(info.config).toMatchObject(DESKTOP_LIMITS);
    // A message above the per-message limit is not stored.
    const demo = await agent('agent-demo-property-demo-agent', passwords.agent, '_INBOX_demo-agent');
    const before = info.state.messages;
    demo.publish(
      'lock.desktop.demo-property.demo-agent.evt.big',
      new Uint8Array(DESKTOP_LIMITS.max_msg_size + 1),
    );
    demo.publish('lock.desktop.demo-property.demo-agent.evt.small', 'ok');
    await demo.flush();
    await eventually(async () => {
      const s = (await (await jetstreamManager(service)).streams.info('LOCK_DESKTOP')).state;
      return s.messages === before + 1 ? true : undefined;
    });
    const varz = (await (await fetch(`${monitorUrl}/varz`)).json()) as { http_host: string };
    expect(varz.http_host).toBe('127.0.0.1');
    await demo.close();
    await service.close();
  });

  it('nats.conf: a wrong password is refused', async () => {
    await expect(
      connect({ servers: url, user: 'lock-service', pass: 'wrong', reconnect: false }),
    ).rejects.toThrow();
  });
});
