/**
 * Generated NATS accounts for desk agents: enrolled agents (their device keys as nkey users) in an account per
 * property, written by `lock:cli agent nats-accounts` and loaded by a real nats-server 2.9 on its own port.
 * An agent signs in with its device key and speaks only on its own subjects; a revoked agent is left out and
 * cannot sign in; the agent process itself connects this way (`nats.nkey`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey, type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { runAgentNatsAccounts } from '../../src/cli/agentNatsAccounts.ts';
import { deviceKeyAuthenticator } from '../../src/desktop/natsAccounts.ts';
import type { DeviceKey } from '../../src/desktop/envelope.ts';
import { connect as connectDb } from '../../src/io/db/index.ts';
import { deskConfig } from '../support/deskAgent.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { eventually, freePort, type Harness, startHarness } from '../support/harness.ts';

describe('generated NATS accounts for desk agents', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let server: ChildProcess;
  let url: string;
  let agent: RunningAgent | undefined;
  const open: NatsConnection[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-nats-accounts-'));
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const servicePassword = 'svc-generated-test';
  const desks: Record<string, { agentId: string; propertyId: string; key: DeviceKey; keyFile: string }> = {};
  let generated = '';

  async function enroll(name: string, propertyId: string) {
    const keyFile = path.join(dir, `${name}.pem`);
    const key = loadOrCreateDeviceKey(keyFile);
    const r = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/properties/${propertyId}/agents`,
      headers: { authorization: `Bearer ${await gw.token(tenantId)}` },
      payload: { name, publicKey: key.publicKey },
    });
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json().natsUser).toMatch(/^U[A-Z2-7]{55}$/);
    desks[name] = { agentId: r.json().id, propertyId, key, keyFile };
  }
  const signIn = (d: { agentId: string; key: DeviceKey }) =>
    connect({
      servers: url,
      authenticator: deviceKeyAuthenticator(d.key),
      inboxPrefix: `_INBOX_${d.agentId}`,
      reconnect: false,
    }).then((nc) => {
      open.push(nc);
      return nc;
    });
  const service = () =>
    connect({ servers: url, user: 'lock-service', pass: servicePassword }).then((nc) => {
      open.push(nc);
      return nc;
    });

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    const p1 = (await seedProperty(h.service, tenantId, {})).propertyId;
    const p2 = (await seedProperty(h.service, tenantId, {})).propertyId;
    await enroll('a1', p1);
    await enroll('a2', p1);
    await enroll('b1', p2);
    await h.service.desktopAgents.revoke(tenantId, desks.a2?.agentId ?? '', 'left', 'test');

    const owner = connectDb(h.databaseUrl, { max: 1 });
    try {
      generated = await runAgentNatsAccounts(['--out', path.join(dir, 'accounts.conf')], owner, {
        out: () => {},
      });
    } finally {
      await owner.destroy();
    }
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    writeFileSync(
      path.join(dir, 'nats.conf'),
      `port: ${port}\nhost: 127.0.0.1\njetstream { store_dir: ${JSON.stringify(path.join(dir, 'js'))} }\ninclude ./accounts.conf\n`,
    );
    server = spawn('/usr/sbin/nats-server', ['-c', path.join(dir, 'nats.conf')], {
      env: { ...process.env, LOCK_SERVICE_NATS_PASSWORD: servicePassword },
      stdio: 'ignore',
    });
    await eventually(() => service().then(() => true), 10_000, 'nats-server with the generated accounts');
  });
  afterAll(async () => {
    await agent?.stop();
    for (const nc of open) await nc.close().catch(() => {});
    server?.kill();
    await gw?.app.close();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('nats accounts: only active agents, each an nkey user of its own property account', () => {
    const a1 = desks.a1;
    expect(generated).toContain(`lock.desktop.${a1?.propertyId}.${a1?.agentId}.evt.>`);
    expect(generated).toContain(`lock.desktop.${desks.b1?.propertyId}.${desks.b1?.agentId}.evt.>`);
    expect(generated).not.toContain(desks.a2?.agentId);
  });

  it("nats accounts: an agent signs in with its device key; its events reach the service; another's subjects are refused", async () => {
    const a1 = desks.a1!;
    const b1 = desks.b1!;
    const svc = await service();
    const events = svc.subscribe(`lock.desktop.${a1.propertyId}.${a1.agentId}.evt.>`, { max: 1 });
    await svc.flush();
    const nc = await signIn(a1);
    nc.publish(`lock.desktop.${a1.propertyId}.${a1.agentId}.evt.hello`, 'hi');
    for await (const m of events) expect(m.string()).toBe('hi');
    // Commands of its own reach it; another property's agent's subjects are refused.
    const own = nc.subscribe(`lock.desktop.${a1.propertyId}.${a1.agentId}.cmd.>`, { max: 1 });
    await nc.flush();
    svc.publish(`lock.desktop.${a1.propertyId}.${a1.agentId}.cmd.read`, 'cmd');
    for await (const m of own) expect(m.string()).toBe('cmd');
    const refused = new Promise<string>((resolve) => {
      void (async () => {
        for await (const s of nc.status())
          if (s.type === 'error' && /Permissions Violation/.test(String(s.error))) resolve(String(s.error));
      })();
    });
    nc.subscribe(`lock.desktop.${b1.propertyId}.${b1.agentId}.cmd.>`);
    expect(await refused).toMatch(/Permissions Violation for Subscription/);
  });

  it('nats accounts: a revoked agent cannot sign in', async () => {
    const e = await signIn(desks.a2!).catch((x: unknown) => x);
    expect(String(e)).toMatch(/Authorization Violation|AUTHORIZATION_VIOLATION/i);
  });

  it('nats accounts: the agent process connects with nats.nkey and announces itself', async () => {
    const b1 = desks.b1!;
    const svc = await service();
    const hello = svc.subscribe(`lock.desktop.${b1.propertyId}.${b1.agentId}.evt.hello`, { max: 1 });
    await svc.flush();
    agent = await startAgent({
      ...deskConfig({ agentId: b1.agentId, propertyId: b1.propertyId, dir }),
      deviceKeyFile: b1.keyFile,
      journalFile: path.join(dir, 'b1-journal.jsonl'),
      nats: { servers: url, nkey: true },
    });
    for await (const m of hello) expect(JSON.parse(m.string())).toMatchObject({ agentId: b1.agentId });
  });

  it('nats accounts: the device key signs a server nonce, never anything shaped like a message', () => {
    const auth = deviceKeyAuthenticator(desks.a1!.key);
    expect(auth('Xq3Vf0bZrT9kq1yQe2lWnA')).toMatchObject({
      nkey: expect.stringMatching(/^U/),
      sig: expect.any(String),
    });
    expect(() => auth('{"agentId":"a1","name":"push"}')).toThrow(/not a nonce/);
  });
});
