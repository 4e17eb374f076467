/**
 * The stored-function calls go as named prepared statements (`src/io/db/hotCalls.ts`): a session parses each
 * once. What a session holds prepared is read from `pg_prepared_statements` on that same session (a pool of one).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Db, ensureDatabase, migrateToLatest } from '../../src/io/db/index.ts';
import { dropDatabase, testSettings, uniqueId } from '../support/harness.ts';

describe('hot calls', () => {
  const { databaseUrl } = testSettings(uniqueId(), 'http://127.0.0.1:9');
  let db: Db;

  beforeAll(async () => {
    await ensureDatabase(databaseUrl);
    await migrateToLatest(databaseUrl);
    db = connect(databaseUrl, { max: 1 });
  });
  afterAll(async () => {
    await db?.destroy();
    await dropDatabase(databaseUrl);
  });

  const prepared = async () =>
    (
      await sql<{ name: string; statement: string }>`
        select name, statement from pg_prepared_statements order by name`.execute(db)
    ).rows;

  it('a stored-function call is prepared once per session and bound at each later call; other statements are not', async () => {
    for (let k = 0; k < 3; k++) {
      const { rows } = await sql`select * from lock_load_snapshots(${'[]'}::jsonb)`.execute(db);
      expect(rows).toEqual([]);
    }
    await sql`select ${1}::int as one`.execute(db);
    const held = await prepared();
    expect(held.filter((p) => p.statement.includes('lock_load_snapshots'))).toHaveLength(1);
    expect(held.every((p) => p.name.startsWith('lock_hot_'))).toBe(true);
    expect(held.some((p) => p.statement.includes('as one'))).toBe(false);
  });

  /** (Re)defines the test's function with another result, as a newer process's migration may while this one runs. */
  const shape = async (columns: string, body: string) => {
    await sql.raw('drop function if exists lock_test_shape(int)').execute(db);
    await sql
      .raw(`create function lock_test_shape(p int) returns table (${columns}) language sql as $$ ${body} $$`)
      .execute(db);
  };

  it('a call whose function changed its result under its kept statement is sent again, unnamed', async () => {
    await shape('a int', 'select p');
    expect((await sql`select * from lock_test_shape(${1}::int)`.execute(db)).rows).toEqual([{ a: 1 }]);
    await shape('a int, b text', "select p, 'x'");
    expect((await sql`select * from lock_test_shape(${2}::int)`.execute(db)).rows).toEqual([
      { a: 2, b: 'x' },
    ]);
    expect((await sql`select * from lock_test_shape(${3}::int)`.execute(db)).rows).toEqual([
      { a: 3, b: 'x' },
    ]);
  });

  it('a call inside a transaction block goes unnamed, so a changed function cannot abort the transaction', async () => {
    const call = (n: number) =>
      sql<{ a: number | string }>`select a from lock_test_shape(${n}::int) as in_tx`;
    await shape('a int', 'select p');
    expect((await db.transaction().execute((tx) => call(1).execute(tx))).rows).toEqual([{ a: 1 }]);
    await shape('a bigint', 'select p::bigint');
    expect((await db.transaction().execute((tx) => call(2).execute(tx))).rows).toEqual([{ a: '2' }]);
    expect((await prepared()).some((p) => p.statement.includes('as in_tx'))).toBe(false);
  });

  it("a call whose function's argument changed type fails once, then goes unnamed", async () => {
    const call = (n: number) => sql<{ a: number }>`select * from lock_test_arg(${n}) as arg`;
    await sql
      .raw('create function lock_test_arg(p int) returns table (a int) language sql as $$ select p $$')
      .execute(db);
    expect((await call(1).execute(db)).rows).toEqual([{ a: 1 }]);
    await sql.raw('drop function lock_test_arg(int)').execute(db);
    await sql
      .raw('create function lock_test_arg(p text) returns table (a int) language sql as $$ select p::int $$')
      .execute(db);
    // The kept statement's parameter is still an int, which does not cast to text; an unnamed call infers text.
    await expect(call(2).execute(db)).rejects.toMatchObject({ code: '42883' });
    expect((await call(3).execute(db)).rows).toEqual([{ a: 3 }]);
  });
});
