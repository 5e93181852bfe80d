import type { Knex } from 'knex';

/**
 * An imported file is remembered by its content and the options that change what
 * importing it does (mapping, encoding, connection, source: see importOptionsKey in
 * src/pipeline/import-file.ts), so that the same bytes read another way are imported.
 * `''` stands for the defaults, which is what every file imported before meant.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE imported_files ADD COLUMN options text NOT NULL DEFAULT ''`);
  await knex.raw('ALTER TABLE imported_files DROP CONSTRAINT imported_files_pkey');
  await knex.raw('ALTER TABLE imported_files ADD PRIMARY KEY (sha256, options)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DELETE FROM imported_files WHERE options <> ''`);
  await knex.raw('ALTER TABLE imported_files DROP CONSTRAINT imported_files_pkey');
  await knex.raw('ALTER TABLE imported_files DROP COLUMN options');
  await knex.raw('ALTER TABLE imported_files ADD PRIMARY KEY (sha256)');
}
