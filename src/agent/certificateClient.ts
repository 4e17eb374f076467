/**
 * The agent's side of `/sync/v1/handshake`: while online it asks the service for a fresh offline-issuance
 * certificate (each lives 24 h; asked for again every `renewEveryMs`), checks it against the service key it was
 * given and against its own device key, and keeps it (0600) beside the journal for when the service is out of
 * reach. A refusal (revoked agent) or a certificate that does not check is not kept, and the reason is
 * reported.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { checkCertificate, type OfflineCertificate } from '../desktop/certificates.ts';
import { type DeviceKey, signMessage } from '../desktop/envelope.ts';
import { type SyncFetch, whyUnreachable } from './httpClient.ts';

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
export async function renewCertificate(o: {
  url: string;
  key: DeviceKey;
  agentId: string;
  propertyId: string;
  boot: string;
  seq: number;
  file: string;
  fetch?: SyncFetch;
}): Promise<{ ok: true; held: HeldCertificate } | { ok: false; status: number | null; reason: string }> {
  const now = new Date().toISOString();
  const request = signMessage(o.key, {
    agentId: o.agentId,
    propertyId: o.propertyId,
    name: 'handshake',
    boot: o.boot,
    seq: o.seq,
    at: now,
    body: { clock: now },
  });
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(`${o.url.replace(/\/$/, '')}/sync/v1/handshake`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    return { ok: false, status: null, reason: `the service is out of reach: ${whyUnreachable(e)}` };
  }
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok)
    return {
      ok: false,
      status: res.status,
      reason:
        `handshake refused: ${res.status} ${String(answer.code ?? '')} ${String(answer.detail ?? '')}`.trim(),
    };
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
