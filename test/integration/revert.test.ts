/**
 * member-sync revert: real PostgreSQL, imports as the runs to revert, the IKANOW simulator
 * to see that the next push sends the restored values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIkanowSimulator } from '../../src/connectors/ikanow/index.js';
import { log } from '../../src/log.js';
import { revertRun } from '../../src/pipeline/revert.js';
import type { RevertItem } from '../../src/pipeline/revert-plan.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { configWith, importCsv, pushWith } from './push-setup.js';

type Sim = Awaited<ReturnType<typeof startIkanowSimulator>>;
let db: TestDb;
let sim: Sim;
let push: ReturnType<typeof pushWith>;
let config: ReturnType<typeof configWith>;
const NAME = 'ikanow-rev';

beforeAll(async () => {
  db = await createTestDb();
  sim = await startIkanowSimulator();
  config = configWith({ [NAME]: { kind: 'ikanow', baseUrl: sim.url, credentials: { apiKey: 'ikanow-sim-api-key' }, rateLimit: { perSecond: 0, concurrency: 2 } } });
  push = pushWith(db, config);
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const member = (memberId: string) => db.knex('members').where({ member_id: memberId }).first();
const person = (email: string) => [...sim.state.people.values()].find((p) => p.email === email);
const revert = (run: number, dryRun = false) => {
  const items: RevertItem[] = [];
  return revertRun(run, { db: db.knex, log, dryRun, onItem: (i) => items.push(i) }).then((s) => ({ s, items }));
};

describe('revert', () => {
  let runB = 0;
  let runC = 0;

  it('plans the revert of a run without writing anything', async () => {
    const runA = await importCsv(db, config, 'member_id,email,first_name,last_name\nK-1,ana@example.org,Ana,Lee\nK-2,bob@example.org,Bob,Ray\n');
    expect(await push(NAME)).toMatchObject({ created: 2 });
    runB = await importCsv(db, config, 'member_id,email,first_name,last_name,phone\nK-1,,,Leeson,+14155552671\nK-2,,,Rayner,\nK-3,cy@example.org,Cy,Fox,\nK-5,,Eve,NoMail,\n');
    expect(await push(NAME)).toMatchObject({ created: 1, updated: 2, skipped: 1 });
    expect(person('ana@example.org')?.lastName).toBe('Leeson');
    runC = await importCsv(db, config, 'member_id,last_name\nK-2,Ramos\n');
    expect(runA).toBeLessThan(runB);

    const before = await db.knex('members').orderBy('id');
    const { s, items } = await revert(runB, true);
    expect(s).toMatchObject({ run_id: null, dry_run: true, fields_restored: 2, fields_skipped: 1, members_removed: 1, members_kept: 1 });
    const pick = (i: RevertItem) => [i.member, i.action, i.field ?? null, i.reason ?? null];
    expect(items.map(pick).sort()).toEqual(
      [
        ['K-1', 'restore', 'last_name', null],
        ['K-1', 'restore', 'phone', null],
        ['K-2', 'skip', 'last_name', `changed again since by run ${runC}`],
        ['K-3', 'keep', null, `created by the run, pushed since to ${NAME} (remove it there first)`],
        ['K-5', 'remove', null, null],
      ].sort(),
    );
    expect(items.find((i) => i.field === 'last_name' && i.member === 'K-1')).toMatchObject({ from: 'Leeson', to: 'Lee' });
    expect(await db.knex('members').orderBy('id')).toEqual(before);
  });

  it('restores the fields, removes the untouched member, records a revert run; the next push sends the restored values', async () => {
    const { s } = await revert(runB);
    expect(s).toMatchObject({ reverted_run_id: runB, fields_restored: 2, fields_skipped: 1, members_removed: 1, members_kept: 1 });
    const k1 = await member('K-1');
    expect(k1).toMatchObject({ last_name: 'Lee', phone: null });
    // last_name is back to the value the creating run gave it, so its provenance is that run again
    expect(k1.provenance.last_name).toBeUndefined();
    expect(Number(k1.created_run_id)).toBeLessThan(runB);
    expect(k1.provenance.phone).toBeUndefined();
    expect((await member('K-2')).last_name).toBe('Ramos');
    expect(await member('K-3')).toBeTruthy();
    expect(await member('K-5')).toBeUndefined();
    const run = await db.knex('runs').where({ id: s.run_id }).first();
    expect(run).toMatchObject({ kind: 'revert', status: 'succeeded', source: `run:${runB}` });
    const changes = await db.knex('member_changes').where({ run_id: s.run_id }).orderBy('field');
    expect(changes.map((c) => [c.field, c.old, c.new, c.source])).toEqual(
      expect.arrayContaining([
        ['last_name', 'Leeson', 'Lee', 'revert'],
        ['phone', '+14155552671', null, 'revert'],
        ['_deleted', expect.objectContaining({ member_id: 'K-5' }), null, 'revert'],
      ]),
    );

    const p = await push(NAME);
    expect(p).toMatchObject({ updated: 2, failed: 0 }); // K-1 restored, K-2 changed by run C
    expect(person('ana@example.org')?.lastName).toBe('Lee');
    expect(person('bob@example.org')?.lastName).toBe('Ramos');
  });

  it('a second revert of the same run finds everything changed since, and removes nothing', async () => {
    const { s, items } = await revert(runB);
    expect(s).toMatchObject({ fields_restored: 0, members_removed: 0 });
    expect(items.filter((i) => i.action === 'skip').length).toBeGreaterThan(0);
  });

  it('does not restore a key another member holds now', async () => {
    const runE = await importCsv(db, config, 'member_id,email\nK-1,ana.new@example.org\n');
    await importCsv(db, config, 'member_id,email,first_name\nK-9,ana@example.org,Other\n');
    const { s, items } = await revert(runE);
    expect(s).toMatchObject({ fields_restored: 0, fields_skipped: 1 });
    expect(items[0].reason).toMatch(/email "ana@example.org" is held by another member now/);
    expect((await member('K-1')).email).toBe('ana.new@example.org');
  });

  it('refuses an unknown run and a push', async () => {
    await expect(revert(9999)).rejects.toThrow(/no run 9999/);
    const pushRun = await db.knex('runs').where({ kind: 'push' }).first();
    await expect(revert(pushRun.id)).rejects.toThrow(/is a push/);
  });
});
