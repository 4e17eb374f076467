import { type Kysely, sql } from 'kysely';

/**
 * The inspector's actor list (`/api/v1/inspect/actors`): a tenant's actors, latest change first, read by the
 * index in that order instead of sorting every snapshot of the tenant for each page.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX actor_snapshots_tenant_updated ON actor_snapshots (tenant_id, updated_at DESC)`.execute(
    db,
  );
}
