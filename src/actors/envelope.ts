/** What travels on an actor's inbox subject. The message id travels as the `Nats-Msg-Id` header. */
export interface ActorEnvelope {
  tenantId: string;
  /** A machine event: `type`, the time `at` it happened, and its own fields. */
  event: { type: string; at: string };
}

/** Parses and checks the envelope's shape; the machine decides whether the event means anything. */
export function parseEnvelope(data: Uint8Array): ActorEnvelope | string {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'not an object';
  const o = v as { tenantId?: unknown; event?: { type?: unknown; at?: unknown } };
  if (typeof o.tenantId !== 'string' || o.tenantId.length === 0) return 'tenantId missing';
  if (typeof o.event !== 'object' || o.event === null) return 'event missing';
  if (typeof o.event.type !== 'string') return 'event.type missing';
  if (typeof o.event.at !== 'string' || Number.isNaN(Date.parse(o.event.at)))
    return 'event.at missing or not a time';
  return v as ActorEnvelope;
}

export function encodeEnvelope(e: ActorEnvelope): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(e));
}
