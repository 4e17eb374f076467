/**
 * Offline-issuance certificates: what a desk agent may issue while the cloud is out of reach, signed by the
 * service's offline-issuance key. A certificate binds the agent's device key to one property, the kinds and
 * rooms it may issue, the longest validity of a provisional credential, and its own lifetime (short: it is
 * renewed while the agent is online). A provisional credential is signed by the device key and carries its
 * certificate, so the chain is checked at reconciliation: certificate by the service key, credential by the
 * device key the certificate names.
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import type { OfflineSigner } from '../io/crypto/offlineSigner.ts';
import type { KeyKind } from '../machines/index.ts';
import { canonical } from './envelope.ts';

export interface OfflineCertificate {
  v: 1;
  serial: string;
  tenantId: string;
  propertyId: string;
  agentId: string;
  /** The agent's Ed25519 public key, raw base64. */
  agentKey: string;
  kinds: KeyKind[];
  /** Rooms it may issue for; `*` for every room of the property. */
  rooms: string[] | '*';
  /** The longest validity of a credential issued under it. */
  maxValidityHours: number;
  notBefore: string;
  notAfter: string;
  /** The signing key's id (a KMS key version, or `local`). */
  keyId: string;
  sig: string;
}

export async function issueCertificate(
  signer: OfflineSigner,
  f: Omit<OfflineCertificate, 'v' | 'serial' | 'keyId' | 'sig'>,
): Promise<OfflineCertificate> {
  const unsigned = { v: 1 as const, serial: randomUUID(), ...f, keyId: signer.keyId };
  const sig = (await signer.sign(Buffer.from(canonical(unsigned)))).toString('base64');
  return { ...unsigned, sig };
}

export type CertificateProblem = 'MALFORMED' | 'BAD_SIGNATURE' | 'NOT_YET_VALID' | 'EXPIRED';

/** Checks a certificate's signature against the service key's public PEM and its time window at `at`. */
export function checkCertificate(
  cert: unknown,
  servicePublicPem: string,
  at: Date,
): { ok: true; cert: OfflineCertificate } | { ok: false; problem: CertificateProblem } {
  const c = cert as OfflineCertificate;
  if (
    !c ||
    c.v !== 1 ||
    typeof c.sig !== 'string' ||
    typeof c.serial !== 'string' ||
    typeof c.notBefore !== 'string' ||
    typeof c.notAfter !== 'string'
  )
    return { ok: false, problem: 'MALFORMED' };
  const { sig, ...unsigned } = c;
  const good = (() => {
    try {
      return verify(
        null,
        Buffer.from(canonical(unsigned)),
        createPublicKey(servicePublicPem),
        Buffer.from(sig, 'base64'),
      );
    } catch {
      return false;
    }
  })();
  if (!good) return { ok: false, problem: 'BAD_SIGNATURE' };
  if (at.getTime() < Date.parse(c.notBefore)) return { ok: false, problem: 'NOT_YET_VALID' };
  if (at.getTime() >= Date.parse(c.notAfter)) return { ok: false, problem: 'EXPIRED' };
  return { ok: true, cert: c };
}
