/**
 * Inspection events in the xstate inspector's protocol (`@xstate.actor`, `@xstate.event`, `@xstate.snapshot`),
 * made from committed transitions only: the runtime calls `transition()` on persisted snapshots and never
 * creates interpreted actors, so these are what an interpreter would have emitted for the same step, after its
 * commit (never for a decision that was not written). Actor ids are `<type>/<id>`; an event another actor's
 * intent carried names that actor as its source. Redacted: no PIN, card number, app account or secret (sealed
 * or not) ever leaves in one.
 */

export type InspectionEvent =
  | {
      type: '@xstate.actor';
      sessionId: string;
      actorType: string;
      tenantId: string;
      snapshot: InspectedSnapshot;
      createdAt: string;
    }
  | {
      type: '@xstate.event';
      sessionId: string;
      tenantId: string;
      sourceId?: string;
      event: Record<string, unknown>;
      createdAt: string;
    }
  | {
      type: '@xstate.snapshot';
      sessionId: string;
      tenantId: string;
      event: Record<string, unknown>;
      snapshot: InspectedSnapshot;
      version: number;
      createdAt: string;
    };

export interface InspectedSnapshot {
  status: 'active' | 'done';
  value: unknown;
  context: unknown;
}

/** What the runtime knows of a commit once it is durable. */
export interface CommittedTransition {
  tenantId: string;
  actorType: string;
  actorId: string;
  /** The actor's first commit: it is announced (`@xstate.actor`) before its first event. */
  first: boolean;
  version: number;
  event: { type: string; [k: string]: unknown };
  /** The intent the message answered or carried (`<type>:<id>:<version>:<n>` when an actor's). */
  intentId?: string;
  snapshot: { value: unknown; context: unknown; status: string };
  /** The snapshot before (for a new actor: the machine's initial one, which its announcement shows). */
  before?: { value: unknown; context: unknown };
}

export const sessionIdOf = (type: string, id: string) => `${type}/${id}`;

/**
 * The actor whose intent this was: an effect intent's id is `<type>:<id>:<version>:<n>` (an id may hold `:`),
 * a gateway command's `cmd:…` (no actor: a caller).
 */
export function sourceOf(intentId: string | undefined): string | undefined {
  if (!intentId || intentId.startsWith('cmd:')) return undefined;
  const parts = intentId.split(':');
  if (parts.length < 4) return undefined;
  return sessionIdOf(parts[0] as string, parts.slice(1, -2).join(':'));
}

/** Keys whose values never leave in an inspection event (PINs, card numbers, app accounts, secrets). */
const SECRET_KEYS = new Set([
  'secret',
  'secrets',
  'spareSecrets',
  'vendorSecret',
  'pin',
  'pins',
  'cardNumber',
  'recipient',
  'email',
  'phone',
  'guestName',
  'holderName',
  'password',
  'token',
  'refreshToken',
]);

/** A copy with every secret-bearing field replaced; depth-limited (an inspector needs no more). */
export function redact(value: unknown, depth = 12): unknown {
  if (depth === 0) return '[…]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth - 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      out[k] = SECRET_KEYS.has(k) && v !== null && v !== undefined ? '[redacted]' : redact(v, depth - 1);
    return out;
  }
  return value;
}

/** The inspection events of one committed transition, in the order an interpreter emits them. */
export function inspectionOf(c: CommittedTransition, now: Date = new Date()): InspectionEvent[] {
  const sessionId = sessionIdOf(c.actorType, c.actorId);
  const createdAt = now.toISOString();
  const event = redact(c.event) as Record<string, unknown>;
  const snapshot: InspectedSnapshot = {
    status: c.snapshot.status === 'done' ? 'done' : 'active',
    value: c.snapshot.value,
    context: redact(c.snapshot.context),
  };
  const source = sourceOf(c.intentId);
  const out: InspectionEvent[] = [];
  if (c.first)
    out.push({
      type: '@xstate.actor',
      sessionId,
      actorType: c.actorType,
      tenantId: c.tenantId,
      // As it was created: the machine's initial snapshot, before its first event.
      snapshot: c.before
        ? { status: 'active', value: c.before.value, context: redact(c.before.context) }
        : snapshot,
      createdAt,
    });
  out.push({
    type: '@xstate.event',
    sessionId,
    tenantId: c.tenantId,
    ...(source ? { sourceId: source } : {}),
    event,
    createdAt,
  });
  out.push({
    type: '@xstate.snapshot',
    sessionId,
    tenantId: c.tenantId,
    event,
    snapshot,
    version: c.version,
    createdAt,
  });
  return out;
}
