/**
 * Messages between a desktop agent and the service, on `lock.desktop.<propertyId>.<agentId>.{evt,cmd}.<name>`.
 * Every agent message is signed with the agent's Ed25519 device key (its private key never leaves the agent)
 * over a canonical form of everything but the signature: the service verifies it against the public key
 * bound to the agent at enrollment, so a message that names another agent, another property, another
 * subject, or was changed on the way, is refused with the reason. `seq` rises with every message of an agent
 * process's life (with its `boot`), so a replay is told apart; `at` bounds how old a message may be.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';

export interface AgentMessage<B = Record<string, unknown>> {
  v: 1;
  agentId: string;
  propertyId: string;
  /** The message's name: `hello`, `card_encoded`… (the subject's last token). */
  name: string;
  /** This agent process's start (a random id): with `seq`, orders its messages. */
  boot: string;
  seq: number;
  at: string;
  body: B;
  /** Base64 Ed25519 signature over `canonical(message without sig)`. */
  sig: string;
}

/** JSON with object keys sorted at every level: the same message always signs to the same bytes. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

export interface DeviceKey {
  privateKey: KeyObject;
  /** The raw 32-byte public key, base64: what enrollment binds to the agent. */
  publicKey: string;
}

export function generateDeviceKey(): { key: DeviceKey; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    key: { privateKey, publicKey: rawPublicKey(publicKey) },
    pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function deviceKeyFromPem(pem: string): DeviceKey {
  const privateKey = createPrivateKey(pem);
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

function rawPublicKey(k: KeyObject): string {
  // The SPKI of an Ed25519 key is a fixed 12-byte prefix and the 32 raw bytes.
  return k.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64');
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function publicKeyFromRaw(raw: string): KeyObject {
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, bytes]), format: 'der', type: 'spki' });
}

export function signMessage<B extends Record<string, unknown>>(
  key: DeviceKey,
  m: Omit<AgentMessage<B>, 'sig' | 'v'>,
): AgentMessage<B> {
  const unsigned = { v: 1 as const, ...m };
  const sig = sign(null, Buffer.from(canonical(unsigned)), key.privateKey).toString('base64');
  return { ...unsigned, sig };
}

export type Refusal =
  'MALFORMED' | 'WRONG_SUBJECT' | 'UNKNOWN_AGENT' | 'REVOKED_AGENT' | 'BAD_SIGNATURE' | 'STALE' | 'REPLAYED';

export interface VerifyContext {
  /** The subject the message came on: its property and agent must be the message's. */
  subject: string;
  /** The enrolled agent's public key and status, or null when no such agent. */
  agent: { propertyId: string; publicKey: string; status: string } | null;
  now: Date;
  maxAgeMs?: number;
  /**
   * The agent's last message heard: one of an earlier boot (boots are numbered), or of the same boot with a
   * `seq` no higher, is a replay.
   */
  lastSeen?: { boot: string; seq: number };
  /** Verify a revoked agent's message too (the caller refuses it itself, with what it must be told). */
  revokedToo?: boolean;
}

/** Parses and verifies an agent's message; the message, or the reason it is refused. */
export function verifyMessage(
  raw: Uint8Array | string,
  c: VerifyContext,
): { ok: true; message: AgentMessage } | { ok: false; refusal: Refusal; reason: string } {
  const refuse = (refusal: Refusal, reason: string) => ({ ok: false as const, refusal, reason });
  let m: AgentMessage;
  try {
    m = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8')) as AgentMessage;
  } catch {
    return refuse('MALFORMED', 'not JSON');
  }
  if (
    !m ||
    m.v !== 1 ||
    typeof m.agentId !== 'string' ||
    typeof m.propertyId !== 'string' ||
    typeof m.name !== 'string' ||
    typeof m.boot !== 'string' ||
    !Number.isSafeInteger(m.seq) ||
    typeof m.at !== 'string' ||
    Number.isNaN(Date.parse(m.at)) ||
    typeof m.sig !== 'string' ||
    !m.body ||
    typeof m.body !== 'object'
  )
    return refuse('MALFORMED', 'not an agent message');
  const parts = c.subject.split('.');
  // lock.desktop.<property>.<agent>.evt.<name> (a prefix may stand before it)
  const at = parts.lastIndexOf('evt');
  if (at < 2 || parts[at - 2] !== m.propertyId || parts[at - 1] !== m.agentId || parts[at + 1] !== m.name)
    return refuse('WRONG_SUBJECT', 'the message names another agent, property or event than its subject');
  if (!c.agent || c.agent.propertyId !== m.propertyId)
    return refuse('UNKNOWN_AGENT', `no agent ${m.agentId}`);
  const { sig, ...unsigned } = m;
  const good = (() => {
    try {
      return verify(
        null,
        Buffer.from(canonical(unsigned)),
        publicKeyFromRaw(c.agent.publicKey),
        Buffer.from(sig, 'base64'),
      );
    } catch {
      return false;
    }
  })();
  if (!good) return refuse('BAD_SIGNATURE', 'the signature does not match the agent’s device key');
  // After the signature: only the agent itself learns that it is revoked.
  if (c.agent.status !== 'active' && !c.revokedToo)
    return refuse('REVOKED_AGENT', `agent ${m.agentId} is ${c.agent.status}`);
  const age = c.now.getTime() - Date.parse(m.at);
  if (Math.abs(age) > (c.maxAgeMs ?? 5 * 60_000))
    return refuse('STALE', `the message is ${Math.round(age / 1000)} s off`);
  const last = c.lastSeen;
  if (last && (Number(m.boot) < Number(last.boot) || (m.boot === last.boot && m.seq <= last.seq)))
    return refuse('REPLAYED', `boot ${m.boot.slice(0, 20)} seq ${m.seq} was seen already`);
  return { ok: true, message: m };
}
