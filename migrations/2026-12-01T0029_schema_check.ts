import { type Kysely, sql } from 'kysely';

/**
 * The service checks at start that the database has every migration its code needs (`src/io/db/schemaCheck.ts`):
 * production migrates beforehand with `lock:cli migrate`, and a process started against an older schema
 * (a rollout that skipped the step) would fail later, mid-transaction. The runtime role may read the
 * migrations' names, nothing else of the migrator's tables.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    GRANT SELECT (name) ON kysely_migration TO lock_runtime;
    CREATE POLICY runtime_reads_names ON kysely_migration FOR SELECT TO lock_runtime USING (true);
  `.execute(db);
}
