import { type Kysely, sql } from 'kysely';

/**
 * A credential's rooms can change (a reservation moved to other rooms): the commit's upsert of its read-model
 * row sets `rooms` too. The function is taken as it is and only that clause is changed, so nothing else of it
 * (its security, its other tables) can drift from migration 0006.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ def: string }>`
    SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p
     WHERE p.proname = 'lock_commit_batch'`.execute(db);
  const def = rows[0]?.def;
  const before = 'ON CONFLICT (id) DO UPDATE SET status = excluded.status, grants = excluded.grants,';
  if (!def?.includes(before)) throw new Error('lock_commit_batch is not the function migration 0006 made');
  await sql.raw(def.replace(before, `${before} rooms = excluded.rooms,`)).execute(db);
}
