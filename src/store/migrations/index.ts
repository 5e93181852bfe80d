/**
 * Numbered migrations, listed explicitly so they work the same from src/ (tests) and
 * dist/ (the CLI) without knex scanning a folder.
 */
import type { Knex } from 'knex';
import * as m001 from './001-initial.js';

const MIGRATIONS: Record<string, Knex.Migration> = {
  '001-initial': m001,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => MIGRATIONS[name],
};
