/** Every migration, in order. A new migration is a new file here and a new line below; never edit one. */
import type { Migration } from 'kysely';
import * as initial from './2026-11-22T0001_initial.ts';

export const migrations: Record<string, Migration> = {
  '2026-11-22T0001_initial': initial,
};
