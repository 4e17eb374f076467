/**
 * The agent's side of `/sync/v1/push` and `/sync/v1/pull`: signed requests, answers checked for shape. Every
 * failure is a value (the service out of reach, a refusal with its reason), never a throw: the caller keeps
 * its queue and tries again later.
 */
import { type AgentMessage, signMessage } from '../desktop/envelope.ts';
import type { CrlEntry, MirroredCredential, PushItem, PushResult } from '../desktop/provisional.ts';
import type { DeviceKey } from '../desktop/envelope.ts';
import { type SyncFetch, whyUnreachable } from './httpClient.ts';

export interface SyncIdentity {
  url: string;
  key: DeviceKey;
  agentId: string;
  propertyId: string;
  boot: string;
  nextSeq(): number;
  fetch?: SyncFetch;
}

export type SyncFailure = { ok: false; status: number | null; reason: string };

function signed<B extends Record<string, unknown>>(o: SyncIdentity, name: string, body: B): AgentMessage<B> {
  return signMessage(o.key, {
    agentId: o.agentId,
    propertyId: o.propertyId,
    name,
    boot: o.boot,
    seq: o.nextSeq(),
    at: new Date().toISOString(),
    body,
  });
}

async function call(
  o: SyncIdentity,
  url: string,
  init: RequestInit,
): Promise<{ ok: true; body: unknown } | SyncFailure> {
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    return { ok: false, status: null, reason: `the service is out of reach: ${whyUnreachable(e)}` };
  }
  const body = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  if (!res.ok)
    return {
      ok: false,
      status: res.status,
      reason: `${res.status} ${String(body?.code ?? '')} ${String(body?.detail ?? '')}`.trim(),
    };
  return { ok: true, body };
}

const base = (o: SyncIdentity) => o.url.replace(/\/$/, '');

/** `POST /sync/v1/handshake` with the desk's clock: the service's answer (a certificate), or why not. */
export async function handshake(o: SyncIdentity): Promise<{ ok: true; body: unknown } | SyncFailure> {
  const clock = new Date().toISOString();
  return call(o, `${base(o)}/sync/v1/handshake`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(signed(o, 'handshake', { clock })),
  });
}

export async function pushProvisional(
  o: SyncIdentity,
  items: PushItem[],
): Promise<{ ok: true; results: PushResult[] } | SyncFailure> {
  const r = await call(o, `${base(o)}/sync/v1/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(signed(o, 'push', { items })),
  });
  if (!r.ok) return r;
  const results = (r.body as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return { ok: false, status: 200, reason: 'the push answer has no results' };
  return { ok: true, results: results as PushResult[] };
}

export async function pullPage(
  o: SyncIdentity,
  cursor: string | null,
): Promise<
  | { ok: true; cursor: string; more: boolean; credentials: MirroredCredential[]; crl: CrlEntry[] }
  | SyncFailure
> {
  const header = Buffer.from(JSON.stringify(signed(o, 'pull', { cursor }))).toString('base64url');
  const r = await call(o, `${base(o)}/sync/v1/pull${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`, {
    headers: { 'x-lock-agent-request': header },
  });
  if (!r.ok) return r;
  const b = (r.body ?? {}) as { cursor?: unknown; more?: unknown; credentials?: unknown; crl?: unknown };
  if (typeof b.cursor !== 'string' || !Array.isArray(b.credentials) || !Array.isArray(b.crl))
    return { ok: false, status: 200, reason: 'the pull answer is not a page' };
  return {
    ok: true,
    cursor: b.cursor,
    more: b.more === true,
    credentials: b.credentials as MirroredCredential[],
    crl: b.crl as CrlEntry[],
  };
}
