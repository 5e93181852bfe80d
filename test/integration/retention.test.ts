/**
 * Retention: member-sync purge (and the worker's daily run of it) deletes old rejects and
 * closed conflicts and blanks old change-log values, keeping the fact of each change.
 * Real PostgreSQL; ages made by moving the rows' times back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { removeByHand } from '../../src/pipeline/lifecycle.js';
import { purge, scheduleRetention } from '../../src/pipeline/purge.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { importCsv } from './push-setup.js';

let db: TestDb;
const config = loadConfig({ env: {}, overrides: { retention: { rejectsDays: 30, conflictsDays: 30, changeValuesDays: 60 } } });
const none = loadConfig({ env: {} });

beforeAll(async () => {
  db = await createTestDb();
  const head = 'member_id,email,first_name,last_name,birth_date';
  await importCsv(db, config, `${head}\nR-1,r1@example.org,Rita,Old,\nR-2,r2@example.org,Raul,Old,\nR-3,bad-email,Bad,Row,\n`);
  await importCsv(db, config, `${head}\nR-1,r1@example.org,Rita,New,\nR-9,r2@example.org,Raul,Clash,\n,r3@example.org,Bad,Date,31/31/2000\n`);
  await importCsv(db, config, `${head}\nR-1,r1@example.org,Rita,Newer,\n`);
  await removeByHand('R-2', { db: db.knex, config, log, reason: 'left' });
  // age: the first import's rows are old, the second's recent; one conflict closed long ago
  const [first, second] = await db.knex('runs').where({ kind: 'import' }).orderBy('id').pluck('id');
  await db.knex('rejects').where({ run_id: first }).update({ created_at: db.knex.raw(`now() - interval '40 days'`) });
  await db.knex('member_changes').whereIn('run_id', [first, second]).update({ at: db.knex.raw(`now() - interval '90 days'`) });
  await db.knex('member_changes').where({ field: 'status' }).update({ at: db.knex.raw(`now() - interval '90 days'`) });
  const [c] = await db.knex('conflicts').pluck('id');
  await db.knex('conflicts').insert({ ...(await db.knex('conflicts').where({ id: c }).first()), id: undefined, source_key: 'closed-old', state: 'resolved', resolved_at: db.knex.raw(`now() - interval '45 days'`) });
});
afterAll(async () => {
  await db?.drop();
});

describe('retention', () => {
  it('without settings nothing is purged', async () => {
    expect(await purge({ db: db.knex, config: none, log })).toMatchObject({ configured: false, rejects: 0, conflicts: 0, change_values: 0 });
  });

  it('--dry-run counts, changes nothing; purge deletes old rejects and closed conflicts, blanks old change values and keeps the facts', async () => {
    const rejects = await db.knex('rejects').count('* as n');
    const dry = await purge({ db: db.knex, config, log, dryRun: true });
    expect(dry).toMatchObject({ dry_run: true, rejects: 1, conflicts: 1 });
    expect(dry.change_values).toBeGreaterThan(0);
    expect(await db.knex('rejects').count('* as n')).toEqual(rejects);
    const changes = Number((await db.knex('member_changes').count('* as n'))[0].n);
    const s = await purge({ db: db.knex, config, log });
    expect(s).toMatchObject({ dry_run: false, rejects: 1, conflicts: 1, change_values: dry.change_values });
    expect(s.run_id).toBeGreaterThan(0);
    // the recent reject and the open conflict stay
    expect(await db.knex('rejects').select('reason')).toHaveLength(1);
    expect(await db.knex('conflicts').where({ state: 'open' })).toHaveLength(1);
    expect(await db.knex('conflicts').where({ source_key: 'closed-old' })).toHaveLength(0);
    // every change is still there; the old ones without values, status changes with theirs
    expect(Number((await db.knex('member_changes').count('* as n'))[0].n)).toBe(changes);
    const [, second, third] = await db.knex('runs').where({ kind: 'import' }).orderBy('id').pluck('id');
    const old = await db.knex('member_changes').where({ run_id: second }).whereNot({ field: 'status' });
    expect(old.length).toBeGreaterThan(0);
    expect(old.every((c: { old: unknown; new: unknown }) => c.old === null && c.new === null)).toBe(true);
    const recent = await db.knex('member_changes').where({ run_id: third }).whereNotNull('new');
    expect(recent.length).toBeGreaterThan(0);
    expect((await db.knex('member_changes').where({ field: 'status' }).first()).new).toBe('removed');
    // done: a second purge finds nothing
    expect(await purge({ db: db.knex, config, log })).toMatchObject({ rejects: 0, conflicts: 0, change_values: 0 });
  });

  it('the worker applies it at start and then on its schedule', async () => {
    const before = await db.knex('runs').where({ kind: 'purge' }).count('* as n');
    const stop = scheduleRetention({ db: db.knex, config, log, everyMs: 300 });
    try {
      await expect.poll(async () => Number((await db.knex('runs').where({ kind: 'purge', status: 'succeeded' }).count('* as n'))[0].n) - Number(before[0].n), { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    } finally {
      stop();
    }
  });
});
