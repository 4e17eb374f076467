/**
 * Text a jsonb value cannot hold: PostgreSQL refuses `\u0000` and an unpaired UTF-16 surrogate escape
 * (SQLSTATE 22P05) when it parses JSON. Found in the JSON text (as JSON.stringify writes it, or as a
 * client sent it) so that one value is refused alone, before it shares a statement with others.
 */

/** An escape pair as JSON text has them, left to right: `\\` is consumed whole, so parity is right. */
const ESCAPE = /\\(?:u([0-9a-fA-F]{4})|[^u])/g;

export function jsonbRefuses(json: string): boolean {
  if (!json.includes('\\u')) return false;
  let pendingHighAt = -1;
  for (const m of json.matchAll(ESCAPE)) {
    const hex = m[1];
    const at = m.index;
    if (pendingHighAt >= 0) {
      // A high surrogate must be followed at once by a low one.
      const low = hex !== undefined && at === pendingHighAt + 6 && /^d[c-f]/i.test(hex);
      pendingHighAt = -1;
      if (!low) return true;
      continue;
    }
    if (hex === undefined) continue;
    if (hex === '0000') return true;
    if (/^d[89ab]/i.test(hex)) pendingHighAt = at;
    else if (/^d[c-f]/i.test(hex)) return true;
  }
  return pendingHighAt >= 0;
}

/** The error an item gets instead of failing its batch: what PostgreSQL itself would have said. */
export function jsonbRefusal(): Error {
  return Object.assign(new Error('text holds a NUL or an unpaired surrogate, which jsonb cannot store'), {
    code: '22P05',
  });
}
