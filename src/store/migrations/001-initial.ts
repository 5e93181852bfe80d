import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('runs', (t) => {
    t.bigIncrements('id').primary();
    t.text('kind').notNullable();
    t.text('source');
    t.text('status').notNullable().defaultTo('running');
    t.bigInteger('parent_run_id').references('runs.id');
    t.boolean('dry_run').notNullable().defaultTo(false);
    t.integer('rows').notNullable().defaultTo(0);
    t.integer('created').notNullable().defaultTo(0);
    t.integer('updated').notNullable().defaultTo(0);
    t.integer('unchanged').notNullable().defaultTo(0);
    t.integer('conflicts').notNullable().defaultTo(0);
    t.integer('rejected').notNullable().defaultTo(0);
    t.jsonb('details').notNullable().defaultTo('{}');
    t.text('error');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
  });
  await knex.schema.createTable('members', (t) => {
    t.uuid('id').primary();
    for (const c of ['cons_id', 'member_id', 'email', 'first_name', 'middle_name', 'last_name', 'phone', 'national_id']) t.text(c);
    t.date('birth_date');
    for (const c of ['sex', 'language', 'address', 'city', 'province', 'postal_code', 'country']) t.text(c);
    t.integer('weight').notNullable().defaultTo(1);
    t.specificType('groups', 'text[]');
    t.specificType('interests', 'text[]');
    t.specificType('centers', 'text[]');
    t.boolean('receive_newsletter');
    t.date('join_date');
    t.bigInteger('interface_status_flags');
    t.bigInteger('notification_settings_flags');
    t.text('photo_url');
    t.text('facebook_photo_url');
    t.text('twitter_photo_url');
    t.jsonb('other');
    t.jsonb('provenance').notNullable().defaultTo('{}');
    t.bigInteger('created_run_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE UNIQUE INDEX members_cons_id_key ON members (cons_id) WHERE cons_id IS NOT NULL');
  await knex.raw('CREATE UNIQUE INDEX members_member_id_key ON members (member_id) WHERE member_id IS NOT NULL');
  await knex.raw('CREATE INDEX members_email_idx ON members (email) WHERE email IS NOT NULL');
  await knex.raw('ALTER TABLE members ADD CONSTRAINT members_weight_positive CHECK (weight > 0)');

  await knex.schema.createTable('member_links', (t) => {
    t.text('connection').notNullable();
    t.text('external_id').notNullable();
    t.uuid('member_id').notNullable().references('members.id').onDelete('CASCADE');
    t.text('rule').notNullable();
    t.bigInteger('run_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['connection', 'external_id']);
    t.index(['member_id']);
  });
  // No foreign key to members: history outlives a member a revert removes.
  await knex.schema.createTable('member_changes', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('member_id').notNullable();
    t.bigInteger('run_id').notNullable();
    t.text('source').notNullable();
    t.text('source_ref');
    t.text('rule');
    t.text('field').notNullable();
    t.jsonb('old');
    t.jsonb('new');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['member_id', 'id']);
    t.index(['run_id']);
  });
  await knex.schema.createTable('conflicts', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('run_id').notNullable();
    t.text('source').notNullable();
    t.text('source_ref');
    t.text('reason').notNullable();
    t.specificType('candidate_ids', 'uuid[]').notNullable();
    t.jsonb('record').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('resolved_at', { useTz: true });
    t.index(['run_id']);
  });
  await knex.schema.createTable('rejects', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('run_id').notNullable();
    t.text('source').notNullable();
    t.text('source_ref');
    t.integer('line');
    t.text('reason').notNullable();
    t.jsonb('raw').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['run_id']);
  });
  await knex.schema.createTable('checkpoints', (t) => {
    t.text('key').primary();
    t.jsonb('cursor');
    t.bigInteger('run_id');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('push_state', (t) => {
    t.text('connection').notNullable();
    t.uuid('member_id').notNullable();
    t.text('remote_id');
    t.text('hash');
    t.text('status').notNullable();
    t.text('last_error');
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('run_id');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['connection', 'member_id']);
  });
  await knex.schema.createTable('imported_files', (t) => {
    t.text('sha256').primary();
    t.text('name').notNullable();
    t.bigInteger('size').notNullable();
    t.bigInteger('run_id').notNullable();
    t.timestamp('imported_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['imported_files', 'push_state', 'checkpoints', 'rejects', 'conflicts', 'member_changes', 'member_links', 'members', 'runs']) {
    await knex.schema.dropTableIfExists(t);
  }
}
