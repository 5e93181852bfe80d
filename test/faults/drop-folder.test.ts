/**
 * The drop folder under hostile timing, with the real worker service in process on the
 * PostgreSQL queue backend: a file still being written is not taken before it is whole;
 * a file deleted before it is read — while waiting to become stable, or once queued — is
 * skipped cleanly; a file whose job was lost is queued again. Every import counts rows
 * read = created + updated + unchanged + conflicts + rejected.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { followJob } from '../../src/queue/enqueue.js';
import { openQueueBackend, type QueueBackend } from '../../src/queue/queue-backend.js';
import { startWorkerService, type WorkerService } from '../../src/queue/worker-service.js';
import { checkRun } from '../helpers/accounting.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { drop, people, until } from '../helpers/worker-procs.js';

const quiet = log.child({}, { level: 'fatal' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-dropfaults-'));
const inbox = path.join(dir, 'inbox');
const prefix = `drop_${randomBytes(4).toString('hex')}`;
const config = loadConfig({
  env: {},
  overrides: {
    worker: { prefix, concurrency: 2, lockMs: 5000, stalledIntervalMs: 1000, backoffMs: 100 },
    import: { batchSize: 100 },
    dropFolder: { path: inbox, stableMs: 400, watch: true },
  },
});
let db: TestDb;
let backend: QueueBackend;
let service: WorkerService;

beforeAll(async () => {
  mkdirSync(inbox);
  db = await createTestDb();
  backend = await openQueueBackend({ config, log: quiet, databaseUrl: db.url });
  service = await startWorkerService({ config, log: quiet, db, backend, defs: new Map() });
});
afterAll(async () => {
  await service?.stop(10_000);
  await backend?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const runOf = (name: string) => db.knex('runs').where({ kind: 'import', source: `file:${name}` }).orderBy('id', 'desc').first();

describe('the drop folder under hostile timing', () => {
  it('a file still being written under its final name is taken only once whole', { timeout: 60_000 }, async () => {
    const file = path.join(inbox, 'growing.csv');
    writeFileSync(file, people(50, 1000));
    // keep writing for several stable periods, in slow pieces
    for (let i = 1; i <= 12; i++) {
      await new Promise((r) => setTimeout(r, 120));
      appendFileSync(file, people(50, 1000 + i * 50).split('\n').slice(1).join('\n'));
      expect(await runOf('growing.csv')).toBeUndefined();
    }
    await until('growing.csv processed', async () => existsSync(path.join(inbox, 'processed', 'growing.csv')));
    const run = await runOf('growing.csv');
    expect(run).toMatchObject({ status: 'succeeded', rows: 650, created: 650, rejected: 0 });
    await checkRun(db.knex, run.id);
  });

  it('a file deleted while waiting to become stable is never taken, and nothing fails', { timeout: 60_000 }, async () => {
    const file = path.join(inbox, 'vanishing.csv');
    writeFileSync(file, people(5, 2000));
    // seen by a scan or two (every 100 ms), then gone before it was stable (400 ms)
    await new Promise((r) => setTimeout(r, 200));
    unlinkSync(file);
    // a file dropped after it goes through: the watcher is still working
    drop(inbox, 'after-vanish.csv', people(5, 2100));
    await until('after-vanish.csv processed', async () => existsSync(path.join(inbox, 'processed', 'after-vanish.csv')));
    expect(await runOf('vanishing.csv')).toBeUndefined();
    expect(existsSync(path.join(inbox, 'failed', 'vanishing.csv.error.txt'))).toBe(false);
  });

  it('a file deleted after it was queued and before it is read is skipped with the reason, not failed', { timeout: 60_000 }, async () => {
    await service.queue.pause();
    try {
      drop(inbox, 'gone.csv', people(5, 3000));
      const job = await until('gone.csv queued', async () => (await service.queue.getJobs(['waiting', 'paused' as 'waiting'])).find((j) => (j.data as { path: string }).path === path.join(inbox, 'gone.csv')));
      unlinkSync(path.join(inbox, 'gone.csv'));
      await service.queue.resume();
      const end = await followJob(service.queue, String(job.id), { pollMs: 50 });
      expect(end).toMatchObject({ state: 'completed', outcome: { results: [{ step: 'import', run_id: null, rows: 0, skipped: 'the file is no longer in the drop folder' }] } });
      expect(await runOf('gone.csv')).toBeUndefined();
      expect(existsSync(path.join(inbox, 'failed', 'gone.csv'))).toBe(false);
    } finally {
      await service.queue.resume();
    }
  });

  it('a file whose queued job was lost (the queue emptied under it) is queued again and imported once', { timeout: 60_000 }, async () => {
    await service.queue.pause();
    try {
      drop(inbox, 'orphan.csv', people(20, 4000));
      const job = await until('orphan.csv queued', async () => (await service.queue.getJobs(['waiting', 'paused' as 'waiting'])).find((j) => (j.data as { path: string }).path === path.join(inbox, 'orphan.csv')));
      await service.queue.remove(String(job.id));
    } finally {
      await service.queue.resume();
    }
    // the watcher offers a file still in the folder again; finding no job, it queues it
    await until('orphan.csv processed', async () => existsSync(path.join(inbox, 'processed', 'orphan.csv')), 60_000);
    const runs = await db.knex('runs').where({ kind: 'import', source: 'file:orphan.csv' });
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'succeeded', rows: 20, created: 20 });
    await checkRun(db.knex, runs[0].id);
  });
});
