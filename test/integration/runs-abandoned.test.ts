/**
 * A run left `running` by a process that is gone (SIGKILL, OOM) is marked failed, with the
 * reason, by the next run or `runs` listing on the same machine; runs of live processes
 * and of other machines are left as they are.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRun, getRun, listRuns } from '../../src/store/runs-repo.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
});

async function runOf(processInfo: { host: string; pid: number }): Promise<number> {
  const [row] = await db.knex('runs').insert({ kind: 'import', source: 'file:x.csv', details: JSON.stringify({ process: processInfo }) }).returning('id');
  return Number(row.id);
}

it('marks the runs of gone processes of this machine failed, and only those', async () => {
  // a pid that existed and has ended
  const child = spawnSync(process.execPath, ['-e', '0']);
  const goneRun = await runOf({ host: os.hostname(), pid: child.pid! });
  const liveRun = await runOf({ host: os.hostname(), pid: process.pid });
  const otherHostRun = await runOf({ host: `not-${os.hostname()}`, pid: child.pid! });
  const oldRun = await db.knex('runs').insert({ kind: 'import', source: 'file:old.csv' }).returning('id');
  // this process's pid, on a run that began before this process did: an earlier process that had the same pid
  const reusedPid = await runOf({ host: os.hostname(), pid: process.pid });
  await db.knex('runs').where({ id: reusedPid }).update({ started_at: new Date(Date.now() - process.uptime() * 1000 - 60_000) });

  const mine = await createRun(db.knex, { kind: 'pull', source: 'x' });
  const run = await getRun(db.knex, mine);
  expect(run?.details).toMatchObject({ process: { host: os.hostname(), pid: process.pid } });

  const byId = new Map((await listRuns(db.knex)).map((r) => [r.id, r]));
  expect(byId.get(goneRun)).toMatchObject({ status: 'failed', error: expect.stringMatching(/^abandoned: process \d+ ended without finishing the run/) });
  expect(byId.get(goneRun)?.finished_at).not.toBeNull();
  expect(byId.get(reusedPid)).toMatchObject({ status: 'failed', error: expect.stringMatching(/^abandoned: /) });
  expect(byId.get(liveRun)?.status).toBe('running');
  expect(byId.get(otherHostRun)?.status).toBe('running');
  expect(byId.get(Number(oldRun[0].id))?.status).toBe('running');
  expect(byId.get(mine)?.status).toBe('running');
});
