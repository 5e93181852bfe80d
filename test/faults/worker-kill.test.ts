/**
 * The worker SIGKILLed at random points of a 50,000-row import (20,000 in `npm test`),
 * three times in a row: the fourth worker finishes the file, and the store is the one an
 * uninterrupted import gives — every person once, each created exactly once across all
 * the runs, the file recorded once. A job is taken again at most worker.maxStalledCount
 * times (2 by default; three kills in a row need 3); past that the file goes to failed/
 * with the reason (the second test). The kill points come from FAULT_SEED (in the test
 * name) so that a failing run can be replayed. On the zero-install PostgreSQL queue
 * backend, and on Redis too with MEMBER_SYNC_FAULTS=full.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { drop, killAll, people, startWorker, until } from '../helpers/worker-procs.js';
import { REDIS_URL, redisAnswers } from '../e2e/worker-suite.js';

const FULL = process.env.MEMBER_SYNC_FAULTS === 'full';
const ROWS = FULL ? 50_000 : 20_000;
const KILLS = 3;
const SEED = Number(process.env.FAULT_SEED ?? Date.now() % 100_000);
const haveRedis = process.env.CI ? true : await redisAnswers();
const backends = (['postgres', 'redis'] as const).filter((b) => b === 'postgres' || (FULL && haveRedis));

/** A repeatable sequence in [0, 1) from SEED. */
function seeded(seed: number): () => number {
  let s = seed || 1;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

let baseline: TestDb;
const big = people(ROWS, 100_000);
const snapshot = (d: TestDb) => d.knex('members').orderBy('member_id').select('member_id', 'email', 'first_name', 'last_name', 'weight');

beforeAll(async () => {
  baseline = await createTestDb();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-kill-base-'));
  writeFileSync(path.join(dir, 'big.csv'), big);
  await importFile(path.join(dir, 'big.csv'), { db: baseline.knex, config: loadConfig({ env: {}, files: [], overrides: {} }), log });
  rmSync(dir, { recursive: true, force: true });
});
afterAll(async () => {
  await killAll();
  await baseline?.drop();
});

describe.each(backends)('worker SIGKILLed mid-import, %s queue backend', (backend) => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), `ms-kill-${backend}-`));
  const inbox = path.join(cwd, 'inbox');
  const prefix = `kill_${backend}_${randomBytes(4).toString('hex')}`;
  let db: TestDb;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDb();
    mkdirSync(path.join(cwd, 'jobs'));
    mkdirSync(inbox);
    writeFileSync(
      path.join(cwd, 'config.yaml'),
      ['import: { batchSize: 500 }', 'dropFolder: { stableMs: 300 }', `worker: { prefix: ${prefix}, lockMs: 1500, stalledIntervalMs: 500, backoffMs: 200, graceMs: 20000, maxStalledCount: ${KILLS} }`].join('\n'),
    );
    writeFileSync(
      path.join(cwd, 'strict.yaml'),
      ['import: { batchSize: 500 }', 'dropFolder: { stableMs: 300, path: ./strict }', `worker: { prefix: ${prefix}_strict, lockMs: 1500, stalledIntervalMs: 500, backoffMs: 200, graceMs: 20000, maxStalledCount: 0 }`].join('\n'),
    );
    env = { DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: 'config.yaml', ...(backend === 'redis' ? { REDIS_URL } : {}) };
  });
  afterAll(async () => {
    await killAll();
    if (backend === 'redis') {
      const r = new Redis(REDIS_URL);
      const keys = [...(await r.keys(`${prefix}:*`)), ...(await r.keys(`${prefix}_strict:*`))];
      if (keys.length) await r.del(...keys);
      r.disconnect();
    }
    await db?.drop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it(`three kills in a row, then the same store as an uninterrupted import (FAULT_SEED=${SEED})`, { timeout: 240_000 }, async () => {
    const random = seeded(SEED + backend.length);
    const runsOfBig = () => db.knex('runs').where({ kind: 'import', source: 'file:big.csv' }).orderBy('id');
    drop(inbox, 'big.csv', big);
    const killedAt: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const w = startWorker(cwd, env);
      const before = (await runsOfBig()).length;
      // a random point in the k-th quarter of the file, leaving the last quarter whole:
      // each worker makes progress before it dies, and the fourth has work left to finish
      const at = Math.floor(ROWS * (0.1 + 0.25 * k + 0.15 * random()));
      await until(
        `kill ${k + 1}: the import past ${at} members (seed ${SEED})`,
        async () => (await runsOfBig()).length > before && Number((await db.knex('members').count({ n: '*' }).first())?.n ?? 0) >= at,
        90_000,
        w,
      );
      w.child.kill('SIGKILL');
      await w.exited;
      killedAt.push(Number((await db.knex('members').count({ n: '*' }).first())?.n ?? 0));
    }
    const last = startWorker(cwd, env);
    await until(`big.csv processed after kills at ${killedAt.join(', ')} (seed ${SEED})`, async () => existsSync(path.join(inbox, 'processed', 'big.csv')), 120_000, last);

    const runs = await runsOfBig();
    expect(runs.length, JSON.stringify(runs)).toBeGreaterThanOrEqual(KILLS + 1);
    const finished = runs.filter((r) => r.status === 'succeeded');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ rows: ROWS, conflicts: 0, rejected: 0 });
    // the killed workers' runs do not stay `running`: the next run marks them abandoned
    const others = runs.filter((r) => r.status !== 'succeeded');
    expect(others.map((r) => [r.status, /^abandoned: process \d+ ended/.test(r.error ?? '')])).toEqual(others.map(() => ['failed', true]));
    // each person created exactly once across every run, killed ones included
    expect(runs.reduce((n, r) => n + r.created, 0)).toBe(ROWS);
    expect(await db.knex('member_changes').where({ field: '_created' }).count({ n: '*' }).first()).toEqual({ n: ROWS });
    expect(await db.knex('imported_files').where({ name: 'big.csv' }).count({ n: '*' }).first()).toEqual({ n: 1 });
    expect(await snapshot(db)).toEqual(await snapshot(baseline));

    last.child.kill('SIGTERM');
    expect(await last.exited).toBe(0);
  });

  it('past worker.maxStalledCount kills, the file goes to failed/ with the reason, its rows so far kept', { timeout: 120_000 }, async () => {
    const strictEnv = { ...env, MEMBER_SYNC_CONFIG: 'strict.yaml' };
    const strict = path.join(cwd, 'strict');
    mkdirSync(strict);
    const w1 = startWorker(cwd, strictEnv);
    drop(strict, 'twice.csv', people(20_000, 300_000));
    const running = () => db.knex('runs').where({ kind: 'import', source: 'file:twice.csv', status: 'running' }).andWhere('rows', '>', 0).first();
    await until('the import under way', running, 60_000, w1);
    w1.child.kill('SIGKILL');
    await w1.exited;
    // the next worker finds the job stalled once too often (maxStalledCount 0)
    const w2 = startWorker(cwd, strictEnv);
    await until('twice.csv in failed/', async () => existsSync(path.join(strict, 'failed', 'twice.csv.error.txt')), 60_000, w2);
    expect(readFileSync(path.join(strict, 'failed', 'twice.csv.error.txt'), 'utf8')).toMatch(/^the import was interrupted 1 time: its worker stopped without finishing it/);
    expect(existsSync(path.join(strict, 'twice.csv'))).toBe(false);
    const kept = await db.knex('members').where('member_id', '>=', 'W300000').andWhere('member_id', '<', 'W320000').count({ n: '*' }).first();
    expect(Number(kept?.n)).toBeGreaterThan(0);
    w2.child.kill('SIGTERM');
    expect(await w2.exited).toBe(0);
  });
});
