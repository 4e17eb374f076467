/** What travels on an actor's inbox subject. The message id travels as the `Nats-Msg-Id` header. */
export interface ActorEnvelope {
  tenantId: string;
  /** A machine event: `type`, the time `at` it happened, and its own fields. */
  event: { type: string; at: string };
  /** The effect intent this message answers or carries: its row is released by the commit applying it. */
  intentId?: string;
  /** Who caused it, for the audit log: `user:<token subject>`, `platform`, `vendor:<vendor>`; none: the service. */
  by?: string;
  /** The durable timer this message delivers: its row is released by the commit applying it. */
  timer?: { key: string; dueAt: string };
  /**
   * Sent again (a sweeper, a redelivered timer, a message a stopping worker passed on): it may have been
   * applied in part before, in a turn whose vendor calls ran and whose commit never came. The vendor calls its
   * transition asks for look up before they create, and none runs in the turn.
   */
  again?: true;
  /**
   * Its sender drew the actor's id and knows it new (`MessageIntent.newActor`): a turn that may call a vendor
   * does not read it first. Never with `again`.
   */
  newActor?: true;
}

/** Parses and checks the envelope's shape; the actor kind's schema checks the event itself. */
export function parseEnvelope(data: Uint8Array): ActorEnvelope | string {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'not an object';
  const o = v as {
    tenantId?: unknown;
    event?: { type?: unknown; at?: unknown };
    intentId?: unknown;
    by?: unknown;
    timer?: { key?: unknown; dueAt?: unknown } | null;
    again?: unknown;
    newActor?: unknown;
  };
  if (typeof o.tenantId !== 'string' || o.tenantId.length === 0) return 'tenantId missing';
  if (typeof o.event !== 'object' || o.event === null) return 'event missing';
  if (typeof o.event.type !== 'string') return 'event.type missing';
  if (typeof o.event.at !== 'string' || Number.isNaN(Date.parse(o.event.at)))
    return 'event.at missing or not a time';
  if (o.intentId !== undefined && typeof o.intentId !== 'string') return 'intentId not a string';
  if (o.by !== undefined && (typeof o.by !== 'string' || o.by.length > 256)) return 'by not a short string';
  if (
    o.timer !== undefined &&
    (typeof o.timer !== 'object' ||
      o.timer === null ||
      typeof o.timer.key !== 'string' ||
      typeof o.timer.dueAt !== 'string' ||
      Number.isNaN(Date.parse(o.timer.dueAt)))
  )
    return 'timer not {key, dueAt}';
  if (o.again !== undefined && o.again !== true) return 'again not true';
  if (o.newActor !== undefined && o.newActor !== true) return 'newActor not true';
  return v as ActorEnvelope;
}

export function encodeEnvelope(e: ActorEnvelope): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(e));
}
