/**
 * `/sync/v1/handshake`: an enrolled agent's signed request gets an offline-issuance certificate bound to its
 * device key, checkable with the service's public key; a forged, tampered or unknown agent's request is
 * refused; a revoked agent is refused and its certificates are on the revocation list.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCertificate } from '../../src/desktop/certificates.ts';
import { type DeviceKey, generateDeviceKey, signMessage } from '../../src/desktop/envelope.ts';
import { seedProperty } from '../support/fixtures.ts';
import { buildTestGateway } from '../support/gateway.ts';
import { type Harness, startHarness } from '../support/harness.ts';

describe('/sync/v1/handshake', () => {
  let h: Harness;
  let gw: Awaited<ReturnType<typeof buildTestGateway>>;
  let propertyId: string;
  let agentId: string;
  const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
  const { key } = generateDeviceKey();
  let seq = 0;

  beforeAll(async () => {
    h = await startHarness();
    gw = await buildTestGateway(h);
    ({ propertyId } = await seedProperty(h.service, tenantId, {}));
    const r = await gw.app.inject({
      method: 'POST',
      url: `/api/v1/properties/${propertyId}/agents`,
      headers: { authorization: `Bearer ${await gw.token(tenantId)}` },
      payload: { name: 'desk-1', publicKey: key.publicKey },
    });
    agentId = r.json().id;
  });
  afterAll(async () => {
    await gw?.app.close();
    await h?.close();
  });

  const handshake = (k: DeviceKey = key, who = agentId, tamper?: (m: Record<string, unknown>) => void) => {
    const now = new Date().toISOString();
    const m = signMessage(k, {
      agentId: who,
      propertyId,
      name: 'handshake',
      boot: 'b1',
      seq: ++seq,
      at: now,
      body: { clock: now },
    }) as unknown as Record<string, unknown>;
    tamper?.(m);
    return gw.app.inject({ method: 'POST', url: '/sync/v1/handshake', payload: m });
  };

  it('handshake: an enrolled agent gets a certificate bound to its key, checkable with the service key', async () => {
    const r = await handshake();
    expect(r.statusCode, r.body).toBe(200);
    const { certificate, servicePublicKey } = r.json();
    expect(checkCertificate(certificate, servicePublicKey, new Date())).toMatchObject({
      ok: true,
      cert: { agentId, propertyId, tenantId, agentKey: key.publicKey, kinds: ['card'] },
    });
    expect(await h.service.offline.certificates.revokedAt(tenantId, certificate.serial)).toBeNull();
  });

  it('handshake: forged, tampered and unknown agents are refused with the reason', async () => {
    const forged = await handshake(generateDeviceKey().key);
    expect([forged.statusCode, forged.json().detail]).toEqual([
      401,
      expect.stringContaining('BAD_SIGNATURE'),
    ]);
    const tampered = await handshake(key, agentId, (m) => {
      m.propertyId = 'another-property';
    });
    expect(tampered.statusCode).toBe(401);
    const unknown = await handshake(key, 'no-such-agent');
    expect([unknown.statusCode, unknown.json().detail]).toEqual([
      401,
      expect.stringContaining('UNKNOWN_AGENT'),
    ]);
    const junk = await gw.app.inject({ method: 'POST', url: '/sync/v1/handshake', payload: { hello: 1 } });
    expect(junk.statusCode).toBe(400);
  });

  it('handshake: a revoked agent is refused, and its certificates are on the revocation list', async () => {
    // One certificate per 30 s: the first test's handshake was the last one given.
    const again = await handshake();
    expect([again.statusCode, again.json().code]).toEqual([429, 'LOCK.RATE_LIMITED']);
    const before = (await h.service.offline.certificates.list(tenantId, agentId))[0] as string;
    await h.service.desktopAgents.revoke(tenantId, agentId, 'laptop stolen', 'test');
    const r = await handshake();
    expect([r.statusCode, r.json().code]).toEqual([403, 'LOCK.FORBIDDEN']);
    expect(await h.service.offline.certificates.revokedAt(tenantId, before)).toBeInstanceOf(Date);
  });
});
