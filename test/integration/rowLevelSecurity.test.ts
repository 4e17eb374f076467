/**
 * Every table the migrations make is tenant-isolated: row-level security on and forced (the owner too), so a
 * table added without it fails here rather than in a review. Only the migrator's own tables are exempt.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureDatabase, migrateToLatest } from '../../src/io/db/migrate.ts';
import { dropDatabase, uniqueId } from '../support/harness.ts';

const url = `postgres://postgres@127.0.0.1:5432/lock_test_rls_${uniqueId()}`;

beforeAll(async () => {
  await ensureDatabase(url);
  await migrateToLatest(url);
});
afterAll(() => dropDatabase(url));

it('rls: every table of the schema has row-level security enabled and forced', async () => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ table: string; enabled: boolean; forced: boolean }>(
      `select c.relname as table, c.relrowsecurity as enabled, c.relforcerowsecurity as forced
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relname not like 'kysely_%'
        order by 1`,
    );
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((r) => !r.enabled || !r.forced).map((r) => r.table)).toEqual([]);
  } finally {
    await c.end();
  }
});
