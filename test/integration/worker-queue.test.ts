/**
 * The queue on both backends (the local Redis and BullMQ's PostgreSQL backend), in
 * process: job schedulers follow the job files, connection locks, and two jobs on one
 * connection never running at once. A fresh database, schema and Redis prefix per file.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { connectionLocks } from '../../src/queue/connection-lock.js';
import { startDropWatcher } from '../../src/queue/drop-watcher.js';
import { enqueueSteps, followJob } from '../../src/queue/enqueue.js';
import { parseJobDefinition } from '../../src/queue/job-definition.js';
import { jobOptions, openQueueBackend, type QueueBackend } from '../../src/queue/queue-backend.js';
import { syncSchedulers } from '../../src/queue/schedulers.js';
import { startWorkerService } from '../../src/queue/worker-service.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { redisAnswers } from '../helpers/redis.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
// the failures these tests cause on purpose need not reach the test output
const quiet = log.child({}, { level: 'fatal' });

// Redis tests may skip only outside CI, and only when no Redis answers.
const haveRedis = process.env.CI ? true : await redisAnswers();
const BACKENDS = (['postgres', 'redis'] as const).filter((b) => b === 'postgres' || haveRedis);

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-queue-'));
let db: TestDb;
const prefixes: string[] = [];
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  if (prefixes.length && haveRedis) {
    const r = new Redis(REDIS_URL);
    for (const p of prefixes) {
      const keys = await r.keys(`${p}:*`);
      if (keys.length) await r.del(...keys);
    }
    r.disconnect();
  }
  await db?.drop();
});

function configFor(prefix: string, extra: Record<string, unknown> = {}) {
  return loadConfig({
    env: {},
    overrides: {
      worker: { prefix, concurrency: 2, busyDelayMs: 200, lockMs: 5000, stalledIntervalMs: 1000 },
      import: { batchSize: 100 },
      dropFolder: { watch: false, stableMs: 300 },
      connections: { crm: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1/' } },
      ...extra,
    },
  });
}

function csv(name: string, rows: number, from: number): string {
  const file = path.join(dir, name);
  let s = 'member_id,email,first_name\n';
  for (let i = from; i < from + rows; i++) s += `Q${i},q${i}@example.org,Q${i}\n`;
  writeFileSync(file, s);
  return file;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(BACKENDS)('queue on the %s backend', (kind) => {
  const prefix = `t_${kind}_${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  const config = configFor(prefix);
  let backend: QueueBackend;
  beforeAll(async () => {
    backend = await openQueueBackend({ config, log, databaseUrl: db.url, redisUrl: kind === 'redis' ? REDIS_URL : undefined });
  });
  afterAll(async () => {
    await backend?.close();
  });

  it('makes each scheduled job a job scheduler and removes the ones whose file is gone', async () => {
    const queue = backend.createQueue();
    try {
      const a = parseJobDefinition('a', { schedule: '*/10 * 3 * * *', tz: 'Europe/Madrid', steps: [{ pull: 'crm' }] }, 'jobs/a.yaml');
      const b = parseJobDefinition('b', { every: '1h', steps: [{ import: './in/' }] }, 'jobs/b.yaml');
      const c = parseJobDefinition('c', { steps: [{ pull: 'crm' }] }, 'jobs/c.yaml');
      const first = await syncSchedulers(queue, new Map([['a', a], ['b', b], ['c', c]]), jobOptions(config), log);
      expect(first.upserted.sort()).toEqual(['a', 'b']);
      const schedulers = await queue.getJobSchedulers(0, -1);
      expect(schedulers.map((s) => s.key).sort()).toEqual(['a', 'b']);
      expect(schedulers.find((s) => s.key === 'a')).toMatchObject({ pattern: '*/10 * 3 * * *', tz: 'Europe/Madrid' });
      expect(schedulers.find((s) => s.key === 'b')).toMatchObject({ every: 3_600_000 });
      // next start: b.yaml deleted, a.yaml lost its schedule
      const a2 = parseJobDefinition('a', { steps: [{ pull: 'crm' }] }, 'jobs/a.yaml');
      const second = await syncSchedulers(queue, new Map([['a', a2]]), jobOptions(config), log);
      expect(second.removed.sort()).toEqual(['a', 'b']);
      expect(await queue.getJobSchedulers(0, -1)).toEqual([]);
    } finally {
      await queue.close();
    }
  });

  it('retries a transient error with backoff and fails a hopeless job at once', async () => {
    const cfg = configFor(prefix, { worker: { prefix, attempts: 3, backoffMs: 50 } });
    const service = await startWorkerService({ config: cfg, log: quiet, db, backend, defs: new Map() });
    try {
      // the first attempt hits a serialization failure (40001): a transient error
      const flaky = path.join(dir, `${kind}-flaky.csv`);
      writeFileSync(flaky, `member_id,email\nF-${kind},f-${kind}@example.org\n`);
      await db.knex.raw(`create or replace function fail_first() returns trigger language plpgsql as $$
        begin if (select count(*) from runs where source = 'file:${kind}-flaky.csv') < 2 then raise exception 'try again' using errcode = '40001'; end if; return new; end $$`);
      await db.knex.raw(`create or replace trigger t_${kind} before insert on imported_files for each row execute function fail_first()`);
      const retried = await enqueueSteps(service.queue, { name: 'flaky', steps: [{ import: flaky }] }, 'enqueue', jobOptions(cfg));
      const hopeless = await enqueueSteps(service.queue, { name: 'hopeless', steps: [{ import: path.join(dir, 'missing.csv') }] }, 'enqueue', jobOptions(cfg));
      const [ok, failed] = await Promise.all([retried, hopeless].map((j) => followJob(service.queue, String(j.id), { pollMs: 50 })));
      expect(ok.state).toBe('completed');
      // tried twice: the first attempt failed, the retry went through
      expect((await service.queue.getJob(String(retried.id)))?.attemptsMade).toBe(2);
      expect(failed).toMatchObject({ state: 'failed', failedReason: expect.stringMatching(/^cannot read .*missing\.csv: ENOENT$/) });
      // one attempt of three: not retried
      expect((await service.queue.getJob(String(hopeless.id)))?.attemptsMade).toBe(1);
    } finally {
      await db.knex.raw(`drop trigger if exists t_${kind} on imported_files`);
      expect(await service.stop(10_000)).toBe(true);
    }
  });

  it('never runs two jobs on one connection at once: the second waits, then runs', async () => {
    const service = await startWorkerService({ config, log: quiet, db, backend, defs: new Map() });
    try {
      const base = kind === 'postgres' ? 0 : 500_000;
      const fileA = csv(`${kind}-a.csv`, 3000, base);
      const fileB = csv(`${kind}-b.csv`, 3000, base + 100_000);
      const before = Number((await db.knex('runs').max('id as id').first())?.id ?? 0);
      const jobs = await Promise.all(
        [fileA, fileB].map((f, i) => enqueueSteps(service.queue, { name: `lock-${i}`, steps: [{ import: f, connection: 'crm' }] }, 'enqueue', jobOptions(config))),
      );
      let overlap = 0;
      let sawRunning = 0;
      const watch = (async () => {
        for (;;) {
          const { rows } = await db.knex.raw(
            `select count(*) filter (where status = 'running')::int as running, count(*) filter (where status = 'succeeded')::int as ok from runs where source = 'crm' and kind = 'import' and id > ?`,
            [before],
          );
          if (rows[0].running > 1) overlap++;
          if (rows[0].running === 1) sawRunning++;
          if (rows[0].ok >= 2) return;
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const ends = await Promise.all(jobs.map((j) => followJob(service.queue, String(j.id), { pollMs: 50 })));
      await watch;
      expect(ends.map((e) => e.state)).toEqual(['completed', 'completed']);
      expect(ends.map((e) => e.outcome?.results[0])).toMatchObject([{ step: 'import', rows: 3000 }, { step: 'import', rows: 3000 }]);
      expect(sawRunning).toBeGreaterThan(0);
      expect(overlap).toBe(0);
    } finally {
      expect(await service.stop(10_000)).toBe(true);
    }
  });
});

describe('connection locks', () => {
  it('lets one holder at a time have a connection, across sessions, and frees it when released', async () => {
    const locks = connectionLocks(db.url, log);
    const one = await locks.tryAcquire(['crm', 'other']);
    expect(one.ok).toBe(true);
    const two = await locks.tryAcquire(['x', 'crm']);
    expect(two).toEqual({ ok: false, busy: 'crm' });
    // a holder that failed to take every lock took none: 'x' is free
    const x = await locks.tryAcquire(['x']);
    expect(x.ok).toBe(true);
    if (one.ok) await one.held.release();
    if (x.ok) await x.held.release();
    const three = await locks.tryAcquire(['crm', 'x']);
    expect(three.ok).toBe(true);
    if (three.ok) await three.held.release();
  });
});

describe('drop watcher', () => {
  it('hands on a file once it is stable, once, and ignores names used while writing', async () => {
    const inbox = path.join(dir, 'inbox');
    mkdirSync(inbox, { recursive: true });
    writeFileSync(path.join(inbox, 'early.csv'), 'a\n');
    const handed: string[] = [];
    const watcher = await startDropWatcher({ dir: inbox, stableMs: 300, log, onStable: async (f) => (handed.push(path.basename(f)), true) });
    try {
      writeFileSync(path.join(inbox, '.hidden.csv'), 'x\n');
      writeFileSync(path.join(inbox, 'big.csv.part'), 'x\n');
      await until('the file present at start', async () => handed.includes('early.csv'));
      renameSync(path.join(inbox, 'big.csv.part'), path.join(inbox, 'big.csv'));
      await until('the renamed file', async () => handed.includes('big.csv'));
      await watcher.scan();
      expect(handed.sort()).toEqual(['big.csv', 'early.csv']);
    } finally {
      await watcher.stop();
    }
  });
});
