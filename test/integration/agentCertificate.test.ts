/**
 * The agent renews its offline-issuance certificate at the service while online: the certificate it keeps
 * (0600) checks against the service key and names its own device key; once the agent is revoked, renewal is
 * refused with the reason, which the desk's state shows.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey, type RunningAgent, startAgent } from '../../src/agent/agent.ts';
import { checkCertificate } from '../../src/desktop/certificates.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { deskConfig } from '../support/deskAgent.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('agent certificate renewal', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let agent: RunningAgent | undefined;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'lock-agent-cert-'));

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
  });
  afterAll(async () => {
    await agent?.stop();
    await gw?.app.close();
    await h?.close();
  });

  it('agent certificate: kept, checked and bound to the device key; refused once the agent is revoked', async () => {
    const url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
    const { propertyId } = await seedProperty(h.service, tenantId, {});
    const keyFile = path.join(dir, 'device.pem');
    const key = loadOrCreateDeviceKey(keyFile);
    const enrolled = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/properties/${propertyId}/agents`,
      headers: { authorization: `Bearer ${await gw.token(tenantId)}` },
      payload: { name: 'desk-1', publicKey: key.publicKey },
    });
    const agentId = enrolled.json().id as string;
    const journalFile = path.join(dir, 'journal.jsonl');
    agent = await startAgent(
      deskConfig({
        agentId,
        propertyId,
        dir,
        subjectRoot: h.service.topology.desktopRoot,
        sync: { url, renewEveryMs: 1000 },
      }),
    );
    await expect
      .poll(() => agent?.store.getSnapshot().context.certificate?.serial)
      .toEqual(expect.any(String));
    const state = agent.store.getSnapshot().context;
    const file = `${journalFile}.certificate.json`;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const held = JSON.parse(readFileSync(file, 'utf8'));
    expect(checkCertificate(held.certificate, held.servicePublicKey, new Date())).toMatchObject({
      ok: true,
      cert: { agentId, propertyId, agentKey: key.publicKey },
    });
    await h.service.desktopAgents.revoke(tenantId, agentId, 'desk replaced', 'test');
    await expect
      .poll(() => agent?.store.getSnapshot().context.lastProblem, { timeout: 10_000 })
      .toMatch(/(handshake|pull) refused: 403 LOCK.FORBIDDEN/);
    // Whichever asked first (a renewal, a pull) learnt it: the desk is refused, and holds no certificate.
    expect(agent.store.getSnapshot().context).toMatchObject({
      revoked: expect.any(String),
      certificate: null,
    });
    // What it held stays as it was: revoked by the service, it is on the revocation list.
    expect(
      await h.service.offline.certificates.revokedAt(tenantId, state.certificate?.serial ?? ''),
    ).toBeInstanceOf(Date);
  });
});
