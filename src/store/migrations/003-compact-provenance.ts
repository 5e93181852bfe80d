import type { Knex } from 'knex';

/**
 * Field provenance becomes `field -> run id` (the run gives source and time), and a field
 * set by the run that created the member needs no entry: stores made by 001 held
 * `{src, run, at}` per field, about 1 KB a member.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    update members m set provenance = coalesce((
      select jsonb_object_agg(e.key, (e.value->>'run')::bigint)
      from jsonb_each(m.provenance) e
      where jsonb_typeof(e.value) = 'object' and (e.value->>'run')::bigint is distinct from m.created_run_id
    ), '{}'::jsonb)
    where exists (select 1 from jsonb_each(m.provenance) e where jsonb_typeof(e.value) = 'object')`);
}

export async function down(): Promise<void> {
  // the compact form loses nothing the runs table does not hold; there is no way back needed
}
