import type { Knex } from 'knex';

/**
 * Member lifecycle (DESIGN.md "Lifecycle"). A member is `active`, `removed` (when, why, by
 * which source or person) or `erased`. A source record can be removed at its source: a
 * complete pull did not see it (`removed_run_id` is the run that saw it gone, so a revert
 * of that run brings it back). A push that deleted a member at a connection records it in
 * push_state (status `deleted`).
 *
 * Erasure keeps a tombstone: the member id, when, and keyed hashes (HMAC-SHA256 with a key
 * of this database, `settings` 'erasure.hmacKey') of its identity keys; a later record with
 * one of those keys is rejected `erased`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE members ADD COLUMN status text NOT NULL DEFAULT 'active'`);
  await knex.raw(`ALTER TABLE members ADD CONSTRAINT members_status_check CHECK (status IN ('active', 'removed', 'erased'))`);
  await knex.raw(`ALTER TABLE members ADD COLUMN removed_at timestamptz, ADD COLUMN removed_reason text, ADD COLUMN removed_by text`);
  await knex.raw(`CREATE INDEX members_not_active_idx ON members (status) WHERE status <> 'active'`);
  await knex.raw(`ALTER TABLE source_records ADD COLUMN removed_at timestamptz, ADD COLUMN removed_run_id bigint`);
  await knex.raw(`CREATE INDEX source_records_removed_run_idx ON source_records (removed_run_id) WHERE removed_run_id IS NOT NULL`);
  await knex.raw(`
    CREATE TABLE erasures (
      member_id uuid PRIMARY KEY,
      run_id bigint NOT NULL,
      erased_at timestamptz NOT NULL DEFAULT now(),
      key_hashes text[] NOT NULL
    )`);
  await knex.raw(`CREATE TABLE erased_keys (hash text PRIMARY KEY, member_id uuid NOT NULL)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS erased_keys');
  await knex.raw('DROP TABLE IF EXISTS erasures');
  await knex.raw('ALTER TABLE source_records DROP COLUMN IF EXISTS removed_at, DROP COLUMN IF EXISTS removed_run_id');
  await knex.raw('ALTER TABLE members DROP COLUMN IF EXISTS status, DROP COLUMN IF EXISTS removed_at, DROP COLUMN IF EXISTS removed_reason, DROP COLUMN IF EXISTS removed_by');
}
