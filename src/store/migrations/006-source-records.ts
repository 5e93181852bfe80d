import type { Knex } from 'knex';

/**
 * Source records (src/members/source-record.ts): the last values each source gave for each
 * person; members are computed from them. `source_record_history` keeps a source record's
 * state before each run that changed or moved it, so that a run can be reverted and a
 * split undone. `ingest_batches` is the ledger of committed batches: a batch retried after
 * its COMMIT's outcome was lost is found there and not applied or counted twice.
 * Room is left in each page (fillfactor 80) so that moving a record's last-seen run, what
 * a source sent again unchanged costs, is a heap-only update: no index is written.
 * No foreign key to members (checked per row, it would slow a million-row COPY): the
 * writers that remove a member remove its source records in the same transaction.
 * `settings` holds what every process must agree on (matching.allowDuplicateEmails).
 *
 * Existing members get one source record each (source `migrated`), holding their values,
 * so nothing they hold is lost when they are next computed from their sources. The
 * `seen_rows` cache goes: a source record that arrives with the hash it had does its job.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE source_records (
      id bigserial PRIMARY KEY,
      source text NOT NULL,
      source_key text NOT NULL,
      member_id uuid NOT NULL,
      "values" jsonb NOT NULL,
      stamps jsonb NOT NULL DEFAULT '{}',
      hash text NOT NULL,
      first_run_id bigint NOT NULL,
      last_run_id bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    ) WITH (fillfactor = 80)`);
  await knex.raw('CREATE UNIQUE INDEX source_records_key ON source_records (source, source_key)');
  await knex.raw('CREATE INDEX source_records_member_idx ON source_records (member_id)');
  await knex.raw(`
    CREATE TABLE source_record_history (
      id bigserial PRIMARY KEY,
      run_id bigint NOT NULL,
      source text NOT NULL,
      source_key text NOT NULL,
      member_id uuid NOT NULL,
      "values" jsonb NOT NULL,
      stamps jsonb NOT NULL,
      hash text NOT NULL,
      first_run_id bigint NOT NULL,
      last_run_id bigint NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    )`);
  await knex.raw('CREATE INDEX source_record_history_run_idx ON source_record_history (run_id)');
  await knex.raw('CREATE INDEX source_record_history_key_idx ON source_record_history (source, source_key, id)');
  await knex.raw(`
    CREATE TABLE ingest_batches (
      run_id bigint NOT NULL,
      batch_no integer NOT NULL,
      counts jsonb NOT NULL,
      at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (run_id, batch_no)
    )`);
  await knex.raw(`CREATE TABLE settings (key text PRIMARY KEY, value jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
  await knex.raw(`
    INSERT INTO source_records (source, source_key, member_id, "values", stamps, hash, first_run_id, last_run_id)
    SELECT 'migrated', 'member:' || m.id, m.id,
           jsonb_strip_nulls(to_jsonb(m) - 'id' - 'provenance' - 'created_run_id' - 'created_at' - 'updated_at'),
           '{}', '', coalesce(m.created_run_id, 0), coalesce(m.created_run_id, 0)
      FROM members m`);
  // members are computed now; the field -> run map is derived from source records
  await knex.raw(`UPDATE members SET provenance = '{}' WHERE provenance <> '{}'`);
  await knex.raw('DROP TRIGGER IF EXISTS members_forget_seen_upd ON members');
  await knex.raw('DROP TRIGGER IF EXISTS members_forget_seen_del ON members');
  await knex.raw('DROP TRIGGER IF EXISTS members_forget_seen_trunc ON members');
  await knex.raw('DROP FUNCTION IF EXISTS members_forget_seen()');
  await knex.raw('DROP FUNCTION IF EXISTS members_forget_all_seen()');
  await knex.raw('DROP TABLE IF EXISTS seen_rows');
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['settings', 'ingest_batches', 'source_record_history', 'source_records']) await knex.raw(`DROP TABLE IF EXISTS ${t}`);
}
