/**
 * The database: DATABASE_URL when set, otherwise the embedded PostgreSQL. Migrations run
 * on open. The same code runs on both.
 */
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { DatabaseError } from '../errors.js';
import { redact, type Logger } from '../log.js';
import { startEmbedded, type EmbeddedServer } from './embedded.js';
import { migrationSource } from './migrations/index.js';
import { checkEmailSetting } from './settings-repo.js';

// Dates stay ISO strings; bigint ids fit a JS number for any realistic run count.
pg.types.setTypeParser(1082, (v: string) => v);
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface Database {
  knex: Knex;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  log: Logger;
  url?: string;
  dataDir?: string;
  allowDuplicateEmails?: boolean;
  /** whether the config must agree with the settings recorded in the database @defaultValue true */
  checkSettings?: boolean;
  poolMax?: number;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  let server: EmbeddedServer | undefined;
  let url = opts.url ?? process.env.DATABASE_URL;
  if (!url) {
    server = await startEmbedded(opts.log, opts.dataDir);
    url = server.url;
  }
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new DatabaseError(`DATABASE_URL: expected a postgres:// or postgresql:// URL (postgres://user@host:5432/database), got '${redact(url)}'`);
  }
  const knex = knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'member-sync' },
    pool: { min: 0, max: opts.poolMax ?? 4 },
    acquireConnectionTimeout: 15_000,
    // knex prints these on the console, a failed connection with its stack; the caller
    // reports that error in one line, so those go to debug, and other warnings in one line
    log: {
      warn: (m: unknown) => {
        const text = redact(String(m));
        if (/^(Acquire connection error|Connection Error)/.test(text)) opts.log.debug({ knex: text }, 'knex warning');
        else opts.log.warn(`knex: ${text.split('\n', 1)[0]}`);
      },
      error: (m: unknown) => opts.log.debug({ knex: redact(String(m)) }, 'knex error'),
      deprecate: (m: unknown) => opts.log.debug({ knex: redact(String(m)) }, 'knex deprecation'),
      debug: (m: unknown) => opts.log.debug({ knex: redact(String(m)) }, 'knex debug'),
    },
  });
  try {
    await knex.raw('select 1');
  } catch (err) {
    await knex.destroy();
    await server?.stop();
    throw new DatabaseError(`cannot reach the database at ${redact(url)}: ${redact((err as Error).message)}`, { cause: err });
  }
  await migrate(knex);
  try {
    if (opts.checkSettings !== false) await checkEmailSetting(knex, opts.allowDuplicateEmails ?? false);
  } catch (err) {
    await knex.destroy();
    await server?.stop();
    throw err;
  }
  return {
    knex,
    url,
    embedded: server !== undefined,
    close: async () => {
      await knex.destroy();
      await server?.stop();
    },
  };
}

export async function migrate(knex: Knex): Promise<void> {
  // Serialized across processes: two CLIs starting at once must not both migrate.
  const lockConn = await knex.client.acquireConnection();
  try {
    await knex.raw('select pg_advisory_lock(727001)').connection(lockConn);
    await knex.migrate.latest({ migrationSource, tableName: 'knex_migrations' });
  } finally {
    await knex.raw('select pg_advisory_unlock(727001)').connection(lockConn);
    await knex.client.releaseConnection(lockConn);
  }
}
