import { type Kysely, sql } from 'kysely';

/**
 * The inspector's actor list (`/api/v1/inspect/actors`): actors, latest change first, read by an index in that
 * order (the tenant filter is row-level security's) instead of sorting every snapshot of the tenant per page.
 *
 * Not (tenant_id, updated_at): with the tenant as its first column, the planner could take that index for the
 * activation read (`lock_load_snapshots`: actor ids under the tenant's policy) whenever its statistics are
 * stale — after a bulk load, say — and scan the tenant's every snapshot per activation (found by the
 * resident-actors benchmark: 100,000 activations took 293 s instead of 7).
 *
 * Built inside the migration's transaction (the migrator runs pending migrations in one), so writes to
 * actor_snapshots wait for the build: on a large database, build it first with
 * `CREATE INDEX CONCURRENTLY actor_snapshots_updated ON actor_snapshots (updated_at DESC)`; this migration then
 * keeps it (IF NOT EXISTS).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS actor_snapshots_updated ON actor_snapshots (updated_at DESC)`.execute(
    db,
  );
}
