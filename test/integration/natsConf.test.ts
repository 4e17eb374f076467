/**
 * The project's nats.conf on nats-server 2.9: a server of its own (own port, own store) loads it; the
 * service user can create the streams and lease bucket and publish to actor inboxes; a desktop agent may
 * publish only its own event subjects; a wrong password is refused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStreams, topology } from '../../src/io/nats/index.ts';
import { eventually } from '../support/harness.ts';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('nats.conf', () => {
  let server: ChildProcess;
  let url: string;
  let store: string;
  const passwords = { service: 'svc-test-password', agent: 'agent-test-password' };

  beforeAll(async () => {
    store = mkdtempSync(path.join(tmpdir(), 'lock-nats-'));
    const [port, monitor] = [await freePort(), await freePort()];
    url = `nats://127.0.0.1:${port}`;
    server = spawn(
      '/usr/sbin/nats-server',
      ['-c', 'nats.conf', '-a', '127.0.0.1', '-p', `${port}`, '-m', `${monitor}`],
      {
        env: {
          ...process.env,
          LOCK_NATS_STORE_DIR: store,
          LOCK_SERVICE_NATS_PASSWORD: passwords.service,
          LOCK_AGENT_DEMO_PASSWORD: passwords.agent,
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

  it('nats.conf: a desktop agent publishes its own events but nothing else', async () => {
    const service = await connect({ servers: url, user: 'lock-service', pass: passwords.service });
    const agent = await connect({
      servers: url,
      user: 'agent-demo-property-demo-agent',
      pass: passwords.agent,
    });
    const own = 'lock.desktop.demo-property.demo-agent.evt.encoded';
    const sub = service.subscribe(own, { max: 1 });
    await service.flush();
    agent.publish(own, 'hello');
    for await (const m of sub) expect(m.string()).toBe('hello');

    await expect(
      jetstream(agent).publish('lock.actors.0.credential.c1', '{}', { timeout: 2000 }),
    ).rejects.toThrow(/Permissions Violation/);
    await agent.close().catch(() => {});
    await service.close();
  });

  it('nats.conf: a wrong password is refused', async () => {
    await expect(
      connect({ servers: url, user: 'lock-service', pass: 'wrong', reconnect: false }),
    ).rejects.toThrow();
  });
});
