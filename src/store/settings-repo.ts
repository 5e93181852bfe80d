/**
 * Settings every process that uses a database must agree on, recorded in it at first start
 * (migration 006's `settings`). Today one: `matching.allowDuplicateEmails`, which decides
 * whether a unique index keeps e-mails unique. A process whose config disagrees stops
 * (it never changes the schema under the others); `member-sync settings set` checks and
 * changes it.
 */
import type { Knex } from 'knex';
import { ConfigError, DatabaseError } from '../errors.js';

export const DUPLICATE_EMAILS = 'matching.allowDuplicateEmails';

export async function readSetting(db: Knex, key: string): Promise<unknown> {
  const row = await db('settings').where({ key }).first('value');
  return row ? row.value : undefined;
}

async function hasIndex(db: Knex, name: string): Promise<boolean> {
  const { rows } = await db.raw(`select 1 from pg_indexes where indexname = ?`, [name]);
  return rows.length > 0;
}

/** Make the e-mail index what the setting says (in a transaction: all or nothing). */
async function applyEmailIndex(db: Knex | Knex.Transaction, allowDuplicates: boolean): Promise<void> {
  if (allowDuplicates) {
    await db.raw('CREATE INDEX IF NOT EXISTS members_email_idx ON members (email) WHERE email IS NOT NULL');
    await db.raw('DROP INDEX IF EXISTS members_email_key');
    return;
  }
  const { rows } = await db.raw(`select email, count(*)::int as n from members where email is not null group by email having count(*) > 1 order by n desc limit 5`);
  if (rows.length > 0) {
    const list = (rows as { email: string; n: number }[]).map((r) => `${r.email} (${r.n} members)`).join(', ');
    throw new ConfigError(`${DUPLICATE_EMAILS} cannot be false: members share an e-mail (${list}); merge or change them first (member-sync members show <email>)`);
  }
  await db.raw('CREATE UNIQUE INDEX IF NOT EXISTS members_email_key ON members (email) WHERE email IS NOT NULL');
  await db.raw('DROP INDEX IF EXISTS members_email_idx');
}

/**
 * At open: the first process records its setting (and the index follows it); later ones
 * must have the same.
 */
export async function checkEmailSetting(db: Knex, configured: boolean): Promise<void> {
  const recorded = await readSetting(db, DUPLICATE_EMAILS);
  if (recorded === undefined) {
    // a database from before settings were recorded: the index it has says what it was
    const had = (await db('members').first('id')) ? !(await hasIndex(db, 'members_email_key')) : configured;
    if (had !== configured) throw disagree(configured, had);
    await db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(727001)');
      await applyEmailIndex(trx, configured);
      await trx.raw(`insert into settings (key, value) values (?, ?::jsonb) on conflict (key) do nothing`, [DUPLICATE_EMAILS, JSON.stringify(configured)]);
    });
    const now = await readSetting(db, DUPLICATE_EMAILS);
    if (now !== configured) throw disagree(configured, Boolean(now));
    return;
  }
  if (recorded !== configured) throw disagree(configured, Boolean(recorded));
}

function disagree(configured: boolean, recorded: boolean): ConfigError {
  return new ConfigError(
    `${DUPLICATE_EMAILS} is ${configured} in this config, but the database was set up with ${recorded}; every process must agree. ` +
      `Set it to ${recorded} in your config, or change the database with: member-sync settings set ${DUPLICATE_EMAILS} ${configured}`,
  );
}

/** Change the setting and the index with it, under the members lock; returns what it was. */
export async function setEmailSetting(db: Knex, allowDuplicates: boolean): Promise<boolean | undefined> {
  try {
    return await db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(727002)');
      const before = (await trx('settings').where({ key: DUPLICATE_EMAILS }).first('value'))?.value as boolean | undefined;
      await applyEmailIndex(trx, allowDuplicates);
      await trx.raw(`insert into settings (key, value) values (?, ?::jsonb) on conflict (key) do update set value = excluded.value, updated_at = now()`, [DUPLICATE_EMAILS, JSON.stringify(allowDuplicates)]);
      return before;
    });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new DatabaseError(`cannot change ${DUPLICATE_EMAILS}: ${(err as Error).message}`, { cause: err });
  }
}
