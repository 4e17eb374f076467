/**
 * `/sync/v1` over TLS served by the gateway itself (TLS_CERT_FILE / TLS_KEY_FILE), its certificate signed by
 * the deployment's own CA: a desk that trusts that CA (`sync.caFile`) gets its offline-issuance certificate; one
 * that does not is refused by its own TLS, and says so. The certificate is made with Debian's `openssl`.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey, type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { deskConfig } from '../support/deskAgent.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('/sync/v1 over TLS', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let url: string;
  const agents: RunningAgent[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-sync-tls-'));
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');

  async function desk(name: string, caFile?: string) {
    const { propertyId } = await seedProperty(h.service, tenantId, {});
    const deskDir = mkdtempSync(path.join(dir, `${name}-`));
    const key = loadOrCreateDeviceKey(path.join(deskDir, 'device.pem'));
    const r = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/properties/${propertyId}/agents`,
      headers: { authorization: `Bearer ${await gw.token(tenantId)}` },
      payload: { name, publicKey: key.publicKey },
    });
    const agent = await startAgent(
      deskConfig({
        agentId: r.json().id,
        propertyId,
        dir: deskDir,
        subjectRoot: h.service.topology.desktopRoot,
        sync: { url, ...(caFile ? { caFile } : {}) },
      }),
    );
    agents.push(agent);
    return agent;
  }

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    h = await startHarness();
    gw = await buildTestGateway(h, {
      https: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') },
    });
    url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await gw?.app.close();
    await h?.close();
  });

  it('tls: the gateway serves HTTPS; a desk trusting the deployment CA gets its certificate over it', async () => {
    expect(url).toMatch(/^https:/);
    const agent = await desk('desk-ca', certFile);
    await expect
      .poll(() => agent.store.getSnapshot().context.certificate, { timeout: 10_000 })
      .not.toBeNull();
  });

  it('tls: a desk that does not trust the certificate is refused by its own TLS, and says so', async () => {
    const agent = await desk('desk-no-ca');
    await expect
      .poll(() => agent.store.getSnapshot().context.lastProblem, { timeout: 10_000 })
      .toMatch(/out of reach: .*(CERT|certificate)/i);
    expect(agent.store.getSnapshot().context.certificate).toBeNull();
  });
});
