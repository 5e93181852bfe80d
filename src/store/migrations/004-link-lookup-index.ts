import type { Knex } from 'knex';

/**
 * Push pages read each member's newest link of one connection. With only the
 * member_id index, stale statistics after a push that added many links led the planner
 * to scan every link of the connection for every member (seconds per page).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS member_links_member_connection_idx ON member_links (member_id, connection, created_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS member_links_member_connection_idx');
}
