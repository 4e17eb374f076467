/**
 * Offline-issuance certificates signed by the service's key — a local key, and Cloud KMS through the real
 * client against a local fake of its REST surface (Ed25519 signs the data) — verify against that key's public
 * half only within their lifetime; any change to any field, or another key, is refused.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkCertificate,
  issueCertificate,
  type OfflineCertificate,
} from '../../src/desktop/certificates.ts';
import { generateDeviceKey } from '../../src/desktop/envelope.ts';
import { cloudKmsOfflineSigner, localOfflineSigner } from '../../src/io/crypto/offlineSigner.ts';
import { type FakeKms, startFakeKms } from '../support/fakeKms.ts';

const now = new Date('2026-12-01T10:00:00.000Z');
const fields = () => ({
  tenantId: 't1',
  propertyId: 'p1',
  agentId: 'a1',
  agentKey: generateDeviceKey().key.publicKey,
  kinds: ['card' as const],
  rooms: '*' as const,
  maxValidityHours: 72,
  notBefore: now.toISOString(),
  notAfter: new Date(now.getTime() + 24 * 3_600_000).toISOString(),
});

describe('offline-issuance certificates', () => {
  let kms: FakeKms;
  beforeAll(async () => {
    kms = await startFakeKms();
  });
  afterAll(() => kms?.close());

  it('certificates: signed by Cloud KMS (Ed25519 over the data), they verify with its public key within their lifetime', async () => {
    const signer = cloudKmsOfflineSigner(await kms.client(), kms.signingKeyVersion);
    const cert = await issueCertificate(signer, fields());
    expect(cert.keyId).toBe(kms.signingKeyVersion);
    const pem = await signer.publicKeyPem();
    expect(checkCertificate(cert, pem, new Date(now.getTime() + 1000))).toMatchObject({ ok: true });
    expect(checkCertificate(cert, pem, new Date(now.getTime() - 1000))).toEqual({
      ok: false,
      problem: 'NOT_YET_VALID',
    });
    expect(checkCertificate(cert, pem, new Date(now.getTime() + 24 * 3_600_000))).toEqual({
      ok: false,
      problem: 'EXPIRED',
    });
    expect(kms.calls.map((c) => c.method)).toEqual(['asymmetricSign', 'getPublicKey']);
  });

  it('certificates: any change to any field, or another signing key, is refused', async () => {
    const signer = localOfflineSigner();
    const cert = await issueCertificate(signer, fields());
    const pem = await signer.publicKeyPem();
    const keys = Object.keys(cert).filter((k) => k !== 'sig' && k !== 'v') as (keyof OfflineCertificate)[];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.string({ minLength: 1, maxLength: 6 }), (key, junk) => {
        const value = cert[key];
        const changed = {
          ...cert,
          [key]:
            typeof value === 'number'
              ? value + 1
              : Array.isArray(value)
                ? [...value, junk]
                : key === 'notBefore' || key === 'notAfter'
                  ? new Date(Date.parse(String(value)) - 1000).toISOString()
                  : `${String(value)}${junk}`,
        };
        expect(checkCertificate(changed, pem, new Date(now.getTime() + 1000))).toEqual({
          ok: false,
          problem: 'BAD_SIGNATURE',
        });
      }),
    );
    const other = await localOfflineSigner().publicKeyPem();
    expect(checkCertificate(cert, other, new Date(now.getTime() + 1000))).toEqual({
      ok: false,
      problem: 'BAD_SIGNATURE',
    });
    expect(checkCertificate({ v: 1 }, pem, now)).toEqual({ ok: false, problem: 'MALFORMED' });
  });
});
