/**
 * `lock:cli agent enroll` against the REST gateway: the desk's key is made there (0600), its public half
 * enrolled, and the agent's config written; the enrolled agent's key is the file's. Enrolling the same desk
 * twice, or without a token, is refused with the reason and changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey } from '../../src/agent/agent.ts';
import { runAgentEnroll } from '../../src/cli/agentEnroll.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('lock:cli agent enroll', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let url: string;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  it('agent enroll: key made on the desk, its public half enrolled, the config written; a second run is refused', async () => {
    const { propertyId } = await seedProperty(h.service, tenantId, {});
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'lock-enroll-')), 'desk');
    const out: string[] = [];
    const env = { LOCK_TOKEN: await gw.token(tenantId) };
    const args = ['enroll', '--property', propertyId, '--name', 'desk-1', '--dir', dir, '--url', url];
    const { agentId, configFile } = await runAgentEnroll(args, env, { out: (l) => out.push(l) });
    expect(out[0]).toBe(`agent ${agentId} enrolled for property ${propertyId}`);
    for (const f of [configFile, path.join(dir, 'device.pem')]) expect(statSync(f).mode & 0o777).toBe(0o600);
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    expect(config).toMatchObject({ agentId, propertyId, encoders: [] });
    const enrolled = await h.service.desktopAgents.get(tenantId, agentId);
    expect(enrolled?.publicKey).toBe(loadOrCreateDeviceKey(path.join(dir, 'device.pem')).publicKey);
    await expect(runAgentEnroll(args, env, { out: () => {} })).rejects.toMatchObject({ exitCode: 2 });
    await expect(runAgentEnroll(args, {}, { out: () => {} })).rejects.toThrow(/no token/);
    expect(await h.service.desktopAgents.list(tenantId, propertyId)).toHaveLength(1);
  });
});
