/**
 * The service's stored-function calls (`select … from lock_…(…)`: a handful of fixed texts, the group commit,
 * the claims, the outbox pass, run hundreds of times a second) go as named prepared statements: a connection
 * parses and plans each once, and every later call is a bind and an execute. Anything else goes unnamed, as
 * kysely sends it. Measured in turn against unnamed calls (issue 15, eleventh stop): about a tenth less
 * PostgreSQL CPU per REST issuance.
 *
 * A prepared statement keeps its result's shape: if a migration run by a newer process changes what a hot call
 * returns while this one runs, PostgreSQL refuses the kept statement (`0A000`, "cached plan must not change
 * result type") before running anything. The text goes unnamed on that connection from then on, and the call
 * is sent again at once, unnamed, unless it was inside a transaction (which the refusal aborted: the caller
 * sees the refusal, as it would any failed statement).
 */
import type pg from 'pg';

const HOT_CALL = /^\s*select [^;]*\bfrom lock_[a-z_]+\(/;
/** Bounds the names (and what each connection keeps prepared) should a caller build texts on the fly. */
const MAX_HOT_NAMES = 64;
const names = new Map<string, string>();

function nameOf(text: string): string | null {
  const known = names.get(text);
  if (known !== undefined) return known;
  if (names.size >= MAX_HOT_NAMES || !HOT_CALL.test(text)) return null;
  const name = `lock_hot_${names.size}`;
  names.set(text, name);
  return name;
}

type Query = (...args: unknown[]) => unknown;

/** Makes `client` send the hot calls named (kysely's `query(text, values)` form only). */
export function nameHotCalls(client: pg.PoolClient): void {
  const query = client.query.bind(client) as Query;
  /** Texts whose kept statement this connection's server refused: sent unnamed from then on. */
  const refused = new Set<string>();
  (client as { query: Query }).query = (...args: unknown[]) => {
    const [text, values] = args;
    if (args.length !== 2 || typeof text !== 'string' || !Array.isArray(values) || refused.has(text))
      return query(...args);
    const name = nameOf(text);
    if (name === null) return query(...args);
    return (query({ name, text, values }) as Promise<unknown>).catch((e: unknown) => {
      if ((e as { code?: string }).code !== '0A000') throw e;
      refused.add(text);
      if (client.getTransactionStatus() !== 'I') throw e;
      return query(text, values);
    });
  };
}
