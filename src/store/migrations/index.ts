/**
 * Numbered migrations, listed explicitly so they work the same from src/ (tests) and
 * dist/ (the CLI) without knex scanning a folder.
 */
import type { Knex } from 'knex';
import * as m001 from './001-initial.js';
import * as m002 from './002-push-payload.js';
import * as m003 from './003-compact-provenance.js';
import * as m004 from './004-link-lookup-index.js';
import * as m005 from './005-seen-rows.js';
import * as m006 from './006-source-records.js';
import * as m007 from './007-import-options.js';
import * as m008 from './008-connection-failures-pending.js';
import * as m009 from './009-conflict-queue.js';
import * as m010 from './010-lifecycle.js';

const MIGRATIONS: Record<string, Knex.Migration> = {
  '001-initial': m001,
  '002-push-payload': m002,
  '003-compact-provenance': m003,
  '004-link-lookup-index': m004,
  '005-seen-rows': m005,
  '006-source-records': m006,
  '007-import-options': m007,
  '008-connection-failures-pending': m008,
  '009-conflict-queue': m009,
  '010-lifecycle': m010,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => MIGRATIONS[name],
};
