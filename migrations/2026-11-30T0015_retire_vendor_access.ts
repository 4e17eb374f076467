import { type Kysely, sql } from 'kysely';

/**
 * A vendor switch's decommission destroys the old adapter's secrets and removes its webhook endpoint: the
 * runtime role may delete endpoints (it could already delete secret versions, for rotations).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`GRANT DELETE ON webhook_endpoints TO lock_runtime`.execute(db);
}
