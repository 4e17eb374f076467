export { connect, type Db, setTenant, type Tx, withTenant, withUser } from './connect.ts';
export { ensureDatabase, migrateToLatest } from './migrate.ts';
export type { Database, KeyCredentialsTable, LockDevicesTable } from './schema.ts';
