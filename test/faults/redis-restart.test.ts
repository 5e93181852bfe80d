/**
 * Redis restarted mid-job (`shutdown nosave`: the queue's keys are gone when it comes
 * back): the worker reconnects by itself and the import in hand completes — the file
 * imported whole and filed in processed/, the store that of an uninterrupted import —
 * its job schedulers are back, and new work is taken as before.
 *
 * The test runs its own Redis on a free port, so that restarting it disturbs no other
 * test file using the shared one; it is shut down at the end whatever happens. It skips
 * only when redis-server is not installed and CI is not set.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { drop, freePort, killAll, people, startWorker, until } from '../helpers/worker-procs.js';
import { redisAnswers } from '../helpers/redis.js';

const exec = promisify(execFile);
const FULL = process.env.MEMBER_SYNC_FAULTS === 'full';
const ROWS = FULL ? 60_000 : 30_000;
const haveRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const run = process.env.CI ? true : haveRedisServer;

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-redis-restart-'));
let port = 0;
let db: TestDb;
let baseline: TestDb;

const ping = (): Promise<boolean> => redisAnswers(`redis://127.0.0.1:${port}`, 1000);

async function startRedis(): Promise<void> {
  await exec('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--pidfile', path.join(dir, 'redis.pid')]);
  await until('our Redis to answer', ping, 20_000);
}

async function stopRedis(): Promise<void> {
  await exec('redis-cli', ['-p', String(port), 'shutdown', 'nosave']).catch(() => undefined);
  await until('our Redis to stop', async () => !(await ping()), 20_000);
}

if (!run) {
  describe.skip('Redis restarted mid-job (redis-server is not installed; CI is not set)', () => it('skipped', () => undefined));
} else {
  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    [db, baseline] = await Promise.all([createTestDb(), createTestDb()]);
  });
  afterAll(async () => {
    await killAll();
    // our own Redis, whatever the test did: shut down, nothing left running
    if (port) await exec('redis-cli', ['-p', String(port), 'shutdown', 'nosave']).catch(() => undefined);
    await Promise.all([db?.drop(), baseline?.drop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('Redis restarted mid-job', () => {
    it('the worker reconnects, the import in hand completes, new work is taken', { timeout: 180_000 }, async () => {
      const cwd = path.join(dir, 'work');
      const inbox = path.join(cwd, 'inbox');
      mkdirSync(path.join(cwd, 'jobs'), { recursive: true });
      writeFileSync(path.join(cwd, 'jobs', 'hourly.yaml'), 'every: 1h\nsteps:\n  - import: ./hourly/\n');
      mkdirSync(inbox);
      const prefix = `restart_${randomBytes(4).toString('hex')}`;
      writeFileSync(
        path.join(cwd, 'config.yaml'),
        ['import: { batchSize: 200 }', 'dropFolder: { stableMs: 300 }', `worker: { prefix: ${prefix}, lockMs: 3000, stalledIntervalMs: 1000, backoffMs: 200, graceMs: 20000 }`].join('\n'),
      );
      const env = { DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: 'config.yaml', REDIS_URL: `redis://127.0.0.1:${port}` };
      const big = people(ROWS, 400_000);
      writeFileSync(path.join(dir, 'big.csv'), big);
      await importFile(path.join(dir, 'big.csv'), { db: baseline.knex, config: loadConfig({ env: {}, files: [], overrides: {} }), log });

      const w = startWorker(cwd, env);
      drop(inbox, 'big.csv', big);
      await until('the import under way', async () => {
        const r = await db.knex('runs').where({ kind: 'import', source: 'file:big.csv', status: 'running' }).first();
        return r && r.rows >= 2000;
      }, 60_000, w);
      try {
        await stopRedis();
        // the import keeps going on PostgreSQL meanwhile; Redis comes back empty
        await startRedis();
      } finally {
        if (!(await ping())) await startRedis();
      }

      await until('big.csv processed after the restart', async () => existsSync(path.join(inbox, 'processed', 'big.csv')), 120_000, w);
      expect(w.output()).toMatch(/Redis connection (lost|error)/);
      expect(w.output()).toMatch(/Redis connection restored/);
      // the run in hand when Redis went, and (if its job was lost with the queue's data) the one that finished it
      const runs = await db.knex('runs').where({ kind: 'import', source: 'file:big.csv' }).orderBy('id');
      expect(runs.at(-1)).toMatchObject({ status: 'succeeded', rows: ROWS });
      // a run whose job lock was lost ends after its batch in hand, recorded interrupted (failed, if something else stopped it)
      for (const r of runs.slice(0, -1)) expect(['interrupted', 'failed']).toContain(r.status);
      expect(runs.reduce((n, r) => n + r.created, 0)).toBe(ROWS);
      expect(await db.knex('imported_files').where({ name: 'big.csv' }).count({ n: '*' }).first()).toEqual({ n: 1 });
      const snapshot = (d: TestDb) => d.knex('members').orderBy('member_id').select('member_id', 'email', 'first_name', 'last_name');
      expect(await snapshot(db)).toEqual(await snapshot(baseline));

      // the job schedulers the restart wiped are back
      const queue = new Queue('jobs', { connection: { host: '127.0.0.1', port }, prefix });
      try {
        await until('the hourly scheduler back', async () => (await queue.getJobSchedulers(0, -1)).some((j) => (j.id ?? j.key) === 'hourly'), 30_000, w);
      } finally {
        await queue.close();
      }

      // and the worker takes new work on the restarted Redis
      drop(inbox, 'after.csv', people(10, 900_000));
      await until('after.csv processed', async () => existsSync(path.join(inbox, 'processed', 'after.csv')), 60_000, w);
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    });
  });
}
