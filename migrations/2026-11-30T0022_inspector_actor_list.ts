import { type Kysely, sql } from 'kysely';

/**
 * The inspector's actor list (`/api/v1/inspect/actors`): a tenant's actors, latest change first, read by the
 * index in that order instead of sorting every snapshot of the tenant for each page.
 *
 * Built inside the migration's transaction (the migrator runs pending migrations in one), so writes to
 * actor_snapshots wait for the build: on a large database, build it first with
 * `CREATE INDEX CONCURRENTLY actor_snapshots_tenant_updated ON actor_snapshots (tenant_id, updated_at DESC)`;
 * this migration then keeps it (IF NOT EXISTS).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS actor_snapshots_tenant_updated ON actor_snapshots (tenant_id, updated_at DESC)`.execute(
    db,
  );
}
