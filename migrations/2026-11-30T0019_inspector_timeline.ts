import { type Kysely, sql } from 'kysely';

/**
 * The inspector's timeline of one actor (`/inspect`): its audit entries, found by the actor they name without
 * reading the tenant's whole log. The entry is the JSON text the commit wrote (`actor`: `<type>/<id>`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX audit_log_actor ON audit_log (tenant_id, ((entry::jsonb)->>'actor'), seq);
  `.execute(db);
}
