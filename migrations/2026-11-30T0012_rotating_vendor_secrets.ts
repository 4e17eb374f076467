import { type Kysely, sql } from 'kysely';

/**
 * A vendor secret that rotates itself (Salto KS's refresh token, spent on each use): the runtime may
 * replace the sealed value of a version in place, and nothing else of the row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`GRANT UPDATE (sealed) ON vendor_secrets TO lock_runtime`.execute(db);
}
