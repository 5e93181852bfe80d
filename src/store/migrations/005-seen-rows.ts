import type { Knex } from 'knex';

/**
 * The sequence `ingest_epoch` counts holders of the members lock (see takeIngestLock).
 *
 * Rows already applied, so that importing them again costs a lookup instead of a match
 * and merge (see src/store/seen-repo.ts). A cache: unlogged (no WAL; emptied by crash
 * recovery, which only makes the next re-import take the full path), and it holds only
 * rows whose member has not changed since: every update or delete of a member takes its
 * rows out, in the same statement (a TRUNCATE of members empties it).
 */
export async function up(knex: Knex): Promise<void> {
  // no unique key: written with COPY; a fingerprint written twice names the same member.
  // Only the fingerprints starting with hex 0 (one in 16) are indexed: a lookup probes
  // those and reads the table pages around them (seen-repo.ts); the index stays small and
  // cheap to write at a million rows.
  await knex.raw('CREATE UNLOGGED TABLE seen_rows (fp uuid NOT NULL, member_id uuid NOT NULL)');
  await knex.raw(`CREATE INDEX seen_rows_fp_idx ON seen_rows (fp) WHERE fp < '10000000-0000-0000-0000-000000000000'`);
  await knex.raw('CREATE INDEX seen_rows_member_idx ON seen_rows (member_id)');
  await knex.raw(`
    CREATE FUNCTION members_forget_seen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM seen_rows s USING gone g WHERE s.member_id = g.id;
      RETURN NULL;
    END $$`);
  await knex.raw(`CREATE TRIGGER members_forget_seen_upd AFTER UPDATE ON members
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION members_forget_seen()`);
  await knex.raw(`CREATE TRIGGER members_forget_seen_del AFTER DELETE ON members
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION members_forget_seen()`);
  await knex.raw(`
    CREATE FUNCTION members_forget_all_seen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM seen_rows;
      RETURN NULL;
    END $$`);
  await knex.raw('CREATE TRIGGER members_forget_seen_trunc AFTER TRUNCATE ON members FOR EACH STATEMENT EXECUTE FUNCTION members_forget_all_seen()');
  // the members lock's generation (members-repo.ts takeIngestLock)
  await knex.raw('CREATE SEQUENCE ingest_epoch');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP SEQUENCE IF EXISTS ingest_epoch');
  await knex.raw('DROP TRIGGER IF EXISTS members_forget_seen_upd ON members');
  await knex.raw('DROP TRIGGER IF EXISTS members_forget_seen_del ON members');
  await knex.raw('DROP TRIGGER IF EXISTS members_forget_seen_trunc ON members');
  await knex.raw('DROP FUNCTION IF EXISTS members_forget_seen()');
  await knex.raw('DROP FUNCTION IF EXISTS members_forget_all_seen()');
  await knex.raw('DROP TABLE IF EXISTS seen_rows');
}
