/**
 * The agent's side of `/sync/v1/handshake`: while online it asks the service for a fresh offline-issuance
 * certificate (each lives 24 h; asked for again every `renewEveryMs`), checks it against the service key it was
 * given and against its own device key, and keeps it (0600) beside the journal for when the service is out of
 * reach. A refusal (revoked agent) or a certificate that does not check is not kept, and the reason is
 * reported.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { checkCertificate, type OfflineCertificate } from '../desktop/certificates.ts';
import { handshake, type SyncFailure, type SyncIdentity } from './syncClient.ts';

export interface HeldCertificate {
  certificate: OfflineCertificate;
  servicePublicKey: string;
  /** How the property's cards are encoded (the generic-wiegand adapter's), for cards issued offline. */
  cardFormat: { format: string; facilityCode: number } | null;
  /** How far the desk's clock ran ahead of the service's at the handshake (offline issues correct for it). */
  clockSkewMs?: number;
}

export function loadHeldCertificate(file: string): HeldCertificate | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HeldCertificate;
  } catch {
    return null;
  }
}

/** Asks for a certificate; the certificate kept, or the reason none is. */
export async function renewCertificate(
  o: SyncIdentity & { file: string },
): Promise<{ ok: true; held: HeldCertificate } | SyncFailure> {
  const r = await handshake(o);
  if (!r.ok) return r.status === null ? r : { ...r, reason: `handshake refused: ${r.reason}` };
  const answer = (r.body ?? {}) as Record<string, unknown>;
  const servicePublicKey = String(answer.servicePublicKey ?? '');
  const checked = checkCertificate(answer.certificate, servicePublicKey, new Date());
  if (!checked.ok)
    return { ok: false, status: null, reason: `the certificate does not check: ${checked.problem}` };
  if (checked.cert.agentKey !== o.key.publicKey || checked.cert.agentId !== o.agentId)
    return { ok: false, status: null, reason: 'the certificate is not for this agent' };
  const cf = answer.cardFormat as { format?: unknown; facilityCode?: unknown } | null | undefined;
  const cardFormat =
    cf && typeof cf.format === 'string' && Number.isSafeInteger(cf.facilityCode)
      ? { format: cf.format, facilityCode: cf.facilityCode as number }
      : null;
  const skew = Number(answer.clockSkewMs);
  const held = {
    certificate: checked.cert,
    servicePublicKey,
    cardFormat,
    clockSkewMs: Number.isSafeInteger(skew) ? skew : 0,
  };
  writeFileSync(o.file, JSON.stringify(held), { mode: 0o600 });
  return { ok: true, held };
}
