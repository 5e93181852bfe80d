/** A fresh database per test file, on the server the global setup chose. */
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { inject } from 'vitest';
import { log } from '../../src/log.js';
import { openDatabase, type Database } from '../../src/store/db.js';

export interface TestDb extends Database {
  name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createTestDb(opts: { allowDuplicateEmails?: boolean } = {}): Promise<TestDb> {
  const adminUrl = inject('databaseUrl');
  const name = `ms_test_${randomBytes(6).toString('hex')}`;
  const admin: Knex = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  await admin.destroy();
  const url = withDatabase(adminUrl, name);
  const db = await openDatabase({ log, url, allowDuplicateEmails: opts.allowDuplicateEmails });
  return {
    ...db,
    name,
    drop: async () => {
      await db.close();
      const a: Knex = knexFactory({ client: 'pg', connection: adminUrl, pool: { min: 0, max: 1 } });
      await a.raw(`drop database if exists ${name} with (force)`);
      await a.destroy();
    },
  };
}
