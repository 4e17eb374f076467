/**
 * Refuses to start against a database that lacks a migration this code needs: production migrates beforehand
 * (`lock:cli migrate`), and a process on an older schema would fail later, mid-transaction (a group commit
 * whose shape the database's functions do not take). Migrations the code does not know (a newer schema, a
 * rollback) are allowed: they are forward-only and additive.
 */
import { sql } from 'kysely';
import { migrations } from '../../../migrations/index.ts';
import type { Db } from './index.ts';

/** The migration that lets the runtime role read the migrations' names. */
const READABLE_FROM = '2026-12-01T0029_schema_check';
const MIGRATE = 'run `npm run -s lock:cli -- migrate` first (or start with MIGRATE_ON_START=true)';

export async function checkSchema(db: Db): Promise<void> {
  const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(db).then(
    (r) => new Set(r.rows.map((x) => x.name)),
    () => null,
  );
  if (!applied)
    throw new Error(
      `the database's migrations cannot be read: it is older than ${READABLE_FROM}, or not migrated; ${MIGRATE}`,
    );
  const missing = Object.keys(migrations).filter((n) => !applied.has(n));
  if (missing.length > 0)
    throw new Error(
      `the database lacks ${missing.length} migration(s) this code needs (first: ${missing[0]}); ${MIGRATE}`,
    );
}
