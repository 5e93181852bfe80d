/**
 * The worker as a user runs it (`node bin/member-sync.js worker`, real processes and
 * signals), on one queue backend; worker-postgres.test.ts and worker-redis.test.ts run
 * it on each. A fresh database, queue prefix or schema, and folder per test file. No
 * timing assertions: every wait is for a condition, with a generous deadline.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { redisAnswers } from '../helpers/redis.js';
import { freePort, killAll, startWorker, until } from '../helpers/worker-procs.js';

export type BackendKind = 'postgres' | 'redis';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BIN = path.resolve('bin/member-sync.js');
const TOKEN = 'e2e-admin-token';
const run = promisify(execFile);

export { redisAnswers };

export async function cli(args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function people(rows: number, from = 0, extra = ''): string {
  let s = 'member_id,email,first_name,last_name\n';
  for (let i = from; i < from + rows; i++) s += `W${i},w${i}@example.org,Wen${i},Lee\n`;
  return s + extra;
}

/** Writes under a temporary name, then renames: the way to drop a file safely. */
function drop(dir: string, name: string, text: string): void {
  writeFileSync(path.join(dir, `.${name}.part`), text);
  renameSync(path.join(dir, `.${name}.part`), path.join(dir, name));
}

export function workerSuite(kind: BackendKind, opts: { withRunCommand?: boolean } = {}): void {
  describe(`member-sync worker on the ${kind} backend`, () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), `ms-worker-${kind}-`));
    const inbox = path.join(cwd, 'inbox');
    const prefix = `e2e_${kind}_${randomBytes(4).toString('hex')}`;
    let db: TestDb;
    let env: Record<string, string>;
    let port: number;

    // an import's runs by the file it read (its source is who the rows are attributed to)
    const ofFile = (name: string) => db.knex('runs').where({ kind: 'import' }).whereRaw(`details->>'file' like ?`, [`%/${name}`]);
    const lastRun = async (name: string) => ofFile(name).orderBy('id', 'desc').first();

    beforeAll(async () => {
      db = await createTestDb();
      port = await freePort();
      mkdirSync(path.join(cwd, 'jobs'));
      mkdirSync(path.join(cwd, 'once'));
      mkdirSync(inbox);
      writeFileSync(path.join(cwd, 'tick.csv'), people(3, 900_000));
      writeFileSync(path.join(cwd, 'once', 'once.csv'), people(5, 800_000, 'W-bad,not-an-email,Bad,Row\n'));
      writeFileSync(path.join(cwd, 'jobs', 'tick.yaml'), 'every: 1s\nsteps:\n  - import: ./tick.csv\n');
      writeFileSync(path.join(cwd, 'jobs', 'once.yaml'), 'steps:\n  - import: ./once/\n');
      writeFileSync(
        path.join(cwd, 'config.yaml'),
        [
          'import: { batchSize: 100 }',
          'dropFolder: { stableMs: 1200 }',
          `admin: { port: ${port} }`,
          `worker: { prefix: ${prefix}, lockMs: 2000, stalledIntervalMs: 500, busyDelayMs: 500, backoffMs: 200, graceMs: 20000 }`,
        ].join('\n'),
      );
      env = { DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: 'config.yaml', MEMBER_SYNC_ADMIN_TOKEN: TOKEN, ...(kind === 'redis' ? { REDIS_URL } : {}) };
    });

    afterAll(async () => {
      await killAll();
      if (kind === 'redis') {
        const r = new Redis(REDIS_URL);
        const keys = await r.keys(`${prefix}:*`);
        if (keys.length) await r.del(...keys);
        r.disconnect();
      }
      await db?.drop();
    });

    it('fires a schedule; imports a dropped file once, not half-written, failed ones to failed/; answers /healthz; stops on SIGTERM', async () => {
      const w = startWorker(cwd, env);
      await until('/healthz', async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok, 45_000, w);
      const health = await (await fetch(`http://127.0.0.1:${port}/healthz`)).json();
      expect(health).toEqual({ status: 'ok', backend: kind, postgres: 'ok', queue: 'ok' });
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
      const auth = { authorization: `Bearer ${TOKEN}` };
      const posted = await fetch(`http://127.0.0.1:${port}/jobs/tick`, { method: 'POST', headers: auth });
      expect(posted.status).toBe(202);
      expect(await posted.json()).toMatchObject({ name: 'tick', job_id: expect.any(String) });
      expect((await fetch(`http://127.0.0.1:${port}/jobs/nope`, { method: 'POST', headers: auth })).status).toBe(404);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: auth })).text()).toMatch(/^# HELP /m);

      // the schedule (every 1 s) imports tick.csv
      await until('the scheduled import', async () => (await lastRun('tick.csv'))?.status === 'succeeded', 45_000, w);

      const dropTwice = (async () => {
        drop(inbox, 'a.csv', people(50));
        await until('a.csv processed', async () => existsSync(path.join(inbox, 'processed', 'a.csv')), 45_000, w);
        drop(inbox, 'a-again.csv', people(50));
        await until('a-again.csv filed', async () => existsSync(path.join(inbox, 'processed', 'a-again.csv')), 45_000, w);
        const runs = [...(await ofFile('a.csv')), ...(await ofFile('a-again.csv'))];
        expect(runs.map((r) => [path.basename(r.details.file), r.status, r.rows])).toEqual([['a.csv', 'succeeded', 50]]);
      })();

      const halfWritten = (async () => {
        const file = path.join(inbox, 'half.csv');
        writeFileSync(file, people(10, 10_000));
        // keep writing for well over three stable periods
        for (let i = 1; i <= 20; i++) {
          await new Promise((r) => setTimeout(r, 150));
          appendFileSync(file, people(10, 10_000 + i * 10).split('\n').slice(1).join('\n'));
          expect(await lastRun('half.csv')).toBeUndefined();
        }
        expect(existsSync(file)).toBe(true);
        await until('half.csv processed', async () => existsSync(path.join(inbox, 'processed', 'half.csv')), 45_000, w);
        expect(await lastRun('half.csv')).toMatchObject({ status: 'succeeded', rows: 210, rejected: 0 });
      })();
      const unreadable = (async () => {
        drop(inbox, 'bad.csv', 'first_name\nAna\n');
        await until('bad.csv filed as failed', async () => existsSync(path.join(inbox, 'failed', 'bad.csv.error.txt')), 45_000, w);
        expect(readFileSync(path.join(inbox, 'failed', 'bad.csv.error.txt'), 'utf8')).toMatch(/missing required headers/);
      })();
      await Promise.all([dropTwice, halfWritten, unreadable]);

      // a job that cannot succeed fails at once, with its reason
      const failing = await cli(['enqueue', '--steps', '[{import: ./no-such.csv}]', '--wait', '--json'], cwd, env);
      expect(failing.code).toBe(1);
      expect(JSON.parse(failing.stdout)).toMatchObject({ name: 'adhoc', state: 'failed', error: expect.stringMatching(/cannot read .*no-such\.csv: ENOENT/) });

      // a one-off job, queued and followed to its end
      const q = await cli(['enqueue', 'once', '--wait', '--json'], cwd, env);
      expect(q.stderr).toBe('');
      expect(q.code).toBe(0);
      const out = JSON.parse(q.stdout);
      expect(out).toMatchObject({ name: 'once', state: 'completed', results: [{ step: 'import', rows: 6, created: 5, rejected: 1 }] });
      expect(out.results[0].moved_to).toBe(path.join(cwd, 'once', 'processed', 'once.csv'));
      expect(readFileSync(path.join(cwd, 'once', 'processed', 'once.csv.rejects.csv'), 'utf8')).toMatch(/^run_id,line,reason,.*\r\n\d+,7,"email: not a valid address/);

      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    });

    it('drains on SIGTERM mid-import (exit 0), survives SIGKILL mid-import, and ends with the store of an uninterrupted run', async () => {
      const big = people(20_000, 100_000);
      const since = Number((await db.knex('runs').max('id as id').first())?.id ?? 0);
      const bigRun = async (after: number) => ofFile('big.csv').andWhere('id', '>', after).orderBy('id', 'desc').first();

      // 1. SIGTERM while the import runs: the batch in hand is committed, the job handed back
      const w1 = startWorker(cwd, env);
      drop(inbox, 'big.csv', big);
      const r1 = await until('the import to be under way', async () => {
        const r = await bigRun(since);
        return r && r.status === 'running' && r.rows >= 300 ? r : undefined;
      }, 45_000, w1);
      w1.child.kill('SIGTERM');
      expect(await w1.exited, w1.output().slice(-3000)).toBe(0);
      const stopped = await db.knex('runs').where({ id: r1.id }).first();
      expect(stopped.status).toBe('interrupted');
      expect(stopped.rows).toBeLessThan(20_000);
      expect(existsSync(path.join(inbox, 'big.csv'))).toBe(true);

      // 2. the next worker takes the job back; SIGKILL it mid-import
      const w2 = startWorker(cwd, env);
      const r2 = await until('the import to resume', async () => {
        const r = await bigRun(r1.id);
        return r && r.status === 'running' && r.rows >= 300 ? r : undefined;
      }, 45_000, w2);
      w2.child.kill('SIGKILL');
      await w2.exited;

      // 3. a third worker recovers the stalled job and finishes it
      const w3 = startWorker(cwd, env);
      await until('big.csv processed', async () => existsSync(path.join(inbox, 'processed', 'big.csv')), 60_000, w3);
      const last = await bigRun(r2.id);
      expect(last).toMatchObject({ status: 'succeeded', rows: 20_000 });
      expect(last.created + last.unchanged).toBe(20_000);

      const baseline = await createTestDb();
      try {
        const config = loadConfig({ env: {}, files: [], overrides: {} });
        const file = path.join(cwd, 'baseline-big.csv');
        writeFileSync(file, big);
        await importFile(file, { db: baseline.knex, config, log });
        const snapshot = (d: TestDb) => d.knex('members').select('member_id', 'email', 'first_name', 'last_name', 'weight').orderBy('member_id');
        const [got, want] = [await snapshot(db), await snapshot(baseline)];
        const ours = got.filter((m) => Number(m.member_id.slice(1)) >= 100_000 && Number(m.member_id.slice(1)) < 120_000);
        expect(ours.length).toBe(20_000);
        expect(ours).toEqual(want);
        expect(await db.knex('imported_files').where({ name: 'big.csv' }).count('* as n').first()).toEqual({ n: 1 });
      } finally {
        await baseline.drop();
      }
      w3.child.kill('SIGTERM');
      expect(await w3.exited).toBe(0);
    });

    if (opts.withRunCommand) {
      it('runs a job in-process with `member-sync run`, no queue involved', async () => {
        mkdirSync(path.join(cwd, 'here'));
        const f = path.join(cwd, 'here', 'r.csv');
        writeFileSync(f, people(4, 700_000));
        const r = await cli(['run', '--steps', `[{import: ${f}}]`, '--json'], cwd, env);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ job: 'adhoc', results: [{ step: 'import', file: f, rows: 4, created: 4 }] });
        const bad = await cli(['run', 'no-such-job'], cwd, env);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/^member-sync: no job 'no-such-job' in \.\/jobs; jobs: once, tick\n$/);
      });
    }
  });
}
