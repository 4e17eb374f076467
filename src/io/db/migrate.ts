/** Creates the database if absent and applies the forward-only migrations in `migrations/`. */
import { Migrator } from 'kysely';
import pg from 'pg';
import { migrations } from '../../../migrations/index.ts';
import { connect } from './connect.ts';

/** Creates the URL's database through the server's `postgres` database when it does not exist. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`create database "${name.replaceAll('"', '""')}"`).catch((e: { code?: string }) => {
        if (e.code !== '42P04') throw e; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}

/** Applies pending migrations as the owner role; safe to run from several processes at once. */
export async function migrateToLatest(ownerUrl: string): Promise<string[]> {
  const db = connect(ownerUrl, { max: 1, applicationName: 'lock-integration-migrate' });
  try {
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error;
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  } finally {
    await db.destroy();
  }
}
