/** Connection pools for the three roles: owner (migrations), runtime (tenant-scoped), dispatcher. */
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { nameHotCalls } from './hotCalls.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

/** Replaces the user of a connection URL (trust-auth development: same server, another role). */
/** The same database as another role (its password, if the role has one: production). */
export function withUser(url: string, user: string, password = ''): string {
  const u = new URL(url);
  u.username = user;
  u.password = encodeURIComponent(password);
  return u.toString();
}

export function connect(
  url: string,
  options: {
    max?: number;
    applicationName?: string;
    /** The server ends a session idle this long (what it holds, its advisory locks, goes with it). */
    idleSessionTimeoutMs?: number;
  } = {},
): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'lock-integration',
    idleTimeoutMillis: 30_000,
    ...(options.idleSessionTimeoutMs
      ? { options: `-c idle_session_timeout=${Math.round(options.idleSessionTimeoutMs)}` }
      : {}),
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Nor a checked-out client's: when its session is terminated mid-transaction, pg emits 'error' on the
  // client (no listener: an uncaught exception) besides rejecting the query, which is what callers see.
  pool.on('connect', (client) => {
    client.on('error', () => {});
    nameHotCalls(client);
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Runs `fn` in a transaction that sees only `tenantId`'s rows (RLS via a transaction-local setting). */
export function withTenant<T>(db: Db, tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await setTenant(tx, tenantId);
    return fn(tx);
  });
}

/** Switches the tenant of the current transaction; `is_local` = true, so it never leaks to the pool. */
export async function setTenant(tx: Tx, tenantId: string): Promise<void> {
  await sql`select set_config('app.tenant_id', ${tenantId}, true)`.execute(tx);
}
