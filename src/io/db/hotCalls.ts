/**
 * The service's stored-function calls (`select … from lock_…(…)`: a handful of fixed texts, the group commit,
 * the claims, the outbox pass, run hundreds of times a second) go as named prepared statements: a connection
 * parses and plans each once, and every later call is a bind and an execute. Anything else goes unnamed, as
 * kysely sends it, and so does any call inside a transaction block (none of the hot ones is): a refused kept
 * statement, below, would abort the caller's transaction. Measured in turn against unnamed calls (issue 15,
 * eleventh stop): about a tenth less PostgreSQL CPU per REST issuance.
 *
 * A prepared statement keeps its result's shape and its parameters' types. If a migration run by a newer process
 * changes either for a hot call while this one runs, PostgreSQL refuses the kept statement:
 * - a changed result (`0A000`, "cached plan must not change result type") is refused before anything runs, so the
 *   call is sent again at once, unnamed;
 * - a changed parameter type fails as the statement would (`42883`, say: class 42, the statement's shape), and
 *   reaches the caller, which retries it as any failed statement.
 * Either way the text goes unnamed on that connection from then on.
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

interface PgError {
  code?: string;
  message?: string;
  routine?: string;
}

/** The kept statement's result no longer matches its function's: refused at bind, before anything ran. */
const resultChanged = (e: PgError) =>
  e.code === '0A000' &&
  (e.routine === 'RevalidateCachedQuery' || /cached plan must not change result type/.test(e.message ?? ''));

/** Syntax or access rule (class 42): what a kept statement meets when its function's arguments changed. */
const shapeRefused = (e: PgError) => e.code?.startsWith('42') === true;

type Query = (...args: unknown[]) => unknown;

/** Makes `client` send the hot calls named (kysely's `query(text, values)` form, outside transaction blocks). */
export function nameHotCalls(client: pg.PoolClient): void {
  const query = client.query.bind(client) as Query;
  /** Texts this connection's server refused as kept statements: sent unnamed from then on. */
  const refused = new Set<string>();
  (client as { query: Query }).query = (...args: unknown[]) => {
    const [text, values] = args;
    if (
      args.length !== 2 ||
      typeof text !== 'string' ||
      !Array.isArray(values) ||
      refused.has(text) ||
      client.getTransactionStatus() !== 'I'
    )
      return query(...args);
    const name = nameOf(text);
    if (name === null) return query(...args);
    return (query({ name, text, values }) as Promise<unknown>).catch((e: PgError) => {
      if (resultChanged(e)) {
        refused.add(text);
        return query(text, values);
      }
      if (shapeRefused(e)) refused.add(text);
      throw e;
    });
  };
}
