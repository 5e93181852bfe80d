import type { Knex } from 'knex';

/**
 * Push bookkeeping beyond 001: the last payload sent (so a dry run can show field
 * old -> new against what the remote last got), the remote error code of the last
 * failure, and one row per failed push of a run (push_state only keeps the latest
 * outcome; `runs show` needs what each run hit).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('push_state', (t) => {
    t.jsonb('payload');
    t.text('error_code');
    t.index(['connection', 'status']);
  });
  await knex.schema.createTable('push_errors', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('run_id').notNullable();
    t.text('connection').notNullable();
    t.uuid('member_id').notNullable();
    // 'failed' (permanent, kept until the member changes) or 'pending' (transient, retried next push)
    t.text('status').notNullable();
    t.text('kind');
    t.integer('http_status');
    t.text('remote_code');
    t.text('message').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['run_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('push_errors');
  await knex.schema.alterTable('push_state', (t) => {
    t.dropIndex(['connection', 'status']);
    t.dropColumn('payload');
    t.dropColumn('error_code');
  });
}
