/**
 * The service refuses to start against a database that lacks a migration its code needs (production migrates
 * beforehand; a rollout that skipped it would fail later, mid-transaction), and says what to run.
 */
import { Migrator, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.ts';
import { connect, ensureDatabase, migrateToLatest } from '../../src/io/db/index.ts';
import { startService } from '../../src/service.ts';
import { dropDatabase, testSettings, uniqueId } from '../support/harness.ts';

describe('schema check at start', () => {
  const settings = testSettings(uniqueId(), 'http://127.0.0.1:9', { migrateOnStart: false });
  afterAll(() => dropDatabase(settings.databaseUrl));
  const names = Object.keys(migrations);

  it('schema: a database from before the check refuses the service, saying what to run', async () => {
    await ensureDatabase(settings.databaseUrl);
    const owner = connect(settings.databaseUrl, { max: 1 });
    try {
      const migrator = new Migrator({ db: owner, provider: { getMigrations: async () => migrations } });
      const { error } = await migrator.migrateTo('2026-12-01T0028_merged_transitions');
      expect(error).toBeUndefined();
    } finally {
      await owner.destroy();
    }
    await expect(startService(settings)).rejects.toThrow(
      /older than 2026-12-01T0029_schema_check, or not migrated; run `npm run -s lock:cli -- migrate` first/,
    );
  });

  it('schema: a database a migration behind refuses the service, naming the first one missing', async () => {
    await migrateToLatest(settings.databaseUrl);
    const owner = connect(settings.databaseUrl, { max: 1 });
    const skipped = names[names.length - 3] ?? '';
    try {
      // As if a rollout had skipped one (the names are the record the check reads).
      await sql`delete from kysely_migration where name = ${skipped}`.execute(owner);
    } finally {
      await owner.destroy();
    }
    await expect(startService(settings)).rejects.toThrow(
      new RegExp(`lacks 1 migration\\(s\\) this code needs \\(first: ${skipped}\\)`),
    );
  });
});
