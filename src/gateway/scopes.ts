/**
 * What a token may do, from its `scope` claim (OAuth 2.0: space-separated; an array is taken too). Each
 * scope is independent, none implies another: a front desk's token holds `lock:issue lock:read`, an
 * integrator's `lock:admin lock:read`.
 */
export const ALL_SCOPES = ['lock:admin', 'lock:issue', 'lock:read'] as const;
export type Scope = (typeof ALL_SCOPES)[number];

const known = new Set<string>(ALL_SCOPES);

export function isScope(s: string): s is Scope {
  return known.has(s);
}

/** The service's scopes in a `scope` claim; unknown ones (other services') are ignored. */
export function scopesOf(claim: unknown): ReadonlySet<Scope> {
  const words =
    typeof claim === 'string'
      ? claim.split(/\s+/)
      : Array.isArray(claim)
        ? claim.filter((w): w is string => typeof w === 'string')
        : [];
  return new Set(words.filter(isScope));
}

/** Parses a `--scope "lock:read lock:issue"` argument; throws on a scope the service does not know. */
export function parseScopes(text: string): Scope[] {
  const words = text.split(/[\s,]+/).filter((w) => w.length > 0);
  const unknown = words.filter((w) => !isScope(w));
  if (unknown.length > 0)
    throw new Error(`unknown scope ${unknown.join(', ')} (known: ${ALL_SCOPES.join(' ')})`);
  return words as Scope[];
}
