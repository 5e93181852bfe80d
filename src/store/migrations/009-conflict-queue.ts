import type { Knex } from 'knex';

/**
 * Conflicts become a queue a steward works through (issue 13). A conflict is the record one
 * source sent, refused for one reason: the same record refused again for the same reason
 * updates its open conflict (`times_seen`, `last_run_id`, the record as last sent) instead
 * of adding a row, so it is keyed by the record's source key (`source_key`) and keeps the
 * fingerprint of what was sent (`fp`). Each conflict is `open`, `resolved` (merged into a
 * member or made a new one, by the run `resolve_run_id`) or `ignored`, with who did it,
 * how (`resolution`) and when (`resolved_at`, there since 001 and never written before).
 *
 * `conflict_sightings` counts how often each run refused each conflict's record, so that a
 * run's conflict count stays checkable against the store (the accounting guarantee).
 * `merged_members`: a member absorbed by `members merge` answers with the member it went to.
 *
 * An ignored conflict stays ignored while its source sends the same record (same `fp`);
 * a changed record refused again opens it again. So at most one conflict per (source, key,
 * reason) is not resolved (`conflicts_open_key`).
 *
 * Conflicts written before: their source key is derived from the record as the ingest
 * would have keyed it (a connection's `id …` reference, else the strongest identity key),
 * and open ones with the same key and reason are collapsed into the first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE conflicts
      ADD COLUMN state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'ignored')),
      ADD COLUMN source_key text,
      ADD COLUMN fp text,
      ADD COLUMN times_seen integer NOT NULL DEFAULT 1,
      ADD COLUMN last_run_id bigint,
      ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
      ADD COLUMN resolved_by text,
      ADD COLUMN resolution jsonb,
      ADD COLUMN resolve_run_id bigint`);
  await knex.raw(`UPDATE conflicts SET state = 'resolved' WHERE resolved_at IS NOT NULL`);
  await knex.raw(`
    UPDATE conflicts SET last_run_id = run_id, last_seen_at = created_at,
      source_key = CASE
        WHEN source NOT LIKE 'file:%' AND source_ref LIKE 'id %' THEN 'ext:' || substr(source_ref, 4)
        WHEN coalesce(record->'values'->>'cons_id', '') <> '' THEN 'cons_id:' || (record->'values'->>'cons_id')
        WHEN coalesce(record->'values'->>'member_id', '') <> '' THEN 'member_id:' || (record->'values'->>'member_id')
        WHEN coalesce(record->'values'->>'email', '') <> '' THEN 'email:' || (record->'values'->>'email')
      END`);
  await knex.raw(`
    CREATE TABLE conflict_sightings (
      conflict_id bigint NOT NULL REFERENCES conflicts (id) ON DELETE CASCADE,
      run_id bigint NOT NULL,
      times integer NOT NULL,
      PRIMARY KEY (conflict_id, run_id)
    )`);
  await knex.raw('CREATE INDEX conflict_sightings_run_idx ON conflict_sightings (run_id)');
  await knex.raw('INSERT INTO conflict_sightings (conflict_id, run_id, times) SELECT id, run_id, 1 FROM conflicts');
  // open duplicates collapse into the first conflict of their (source, key, reason)
  await knex.raw(`
    CREATE TEMP TABLE conflict_dups ON COMMIT DROP AS
      SELECT id, min(id) OVER (PARTITION BY source, source_key, reason) AS keep
        FROM conflicts WHERE state = 'open' AND source_key IS NOT NULL`);
  await knex.raw(`
    INSERT INTO conflict_sightings (conflict_id, run_id, times)
      SELECT d.keep, s.run_id, s.times FROM conflict_dups d JOIN conflict_sightings s ON s.conflict_id = d.id WHERE d.id <> d.keep
      ON CONFLICT (conflict_id, run_id) DO UPDATE SET times = conflict_sightings.times + excluded.times`);
  await knex.raw(`
    UPDATE conflicts k SET times_seen = x.n, last_run_id = x.last_run, last_seen_at = x.created_at,
           record = x.record, candidate_ids = x.candidate_ids, source_ref = x.source_ref
      FROM (SELECT DISTINCT ON (d.keep) d.keep, count(*) OVER (PARTITION BY d.keep) AS n, max(c.run_id) OVER (PARTITION BY d.keep) AS last_run,
                   c.created_at, c.record, c.candidate_ids, c.source_ref
              FROM conflict_dups d JOIN conflicts c ON c.id = d.id ORDER BY d.keep, c.id DESC) x
     WHERE k.id = x.keep AND x.n > 1`);
  await knex.raw('DELETE FROM conflicts c USING conflict_dups d WHERE c.id = d.id AND d.id <> d.keep');
  await knex.raw(`CREATE UNIQUE INDEX conflicts_open_key ON conflicts (source, source_key, reason) WHERE state <> 'resolved'`);
  await knex.raw('CREATE INDEX conflicts_queue_idx ON conflicts (state, last_seen_at DESC, id DESC)');
  await knex.raw(`
    CREATE TABLE merged_members (
      id uuid PRIMARY KEY,
      into_id uuid NOT NULL,
      run_id bigint NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS merged_members');
  await knex.raw('DROP TABLE IF EXISTS conflict_sightings');
  await knex.raw('DROP INDEX IF EXISTS conflicts_open_key');
  await knex.raw('DROP INDEX IF EXISTS conflicts_queue_idx');
  await knex.raw(`ALTER TABLE conflicts DROP COLUMN state, DROP COLUMN source_key, DROP COLUMN fp, DROP COLUMN times_seen, DROP COLUMN last_run_id,
    DROP COLUMN last_seen_at, DROP COLUMN resolved_by, DROP COLUMN resolution, DROP COLUMN resolve_run_id`);
}
