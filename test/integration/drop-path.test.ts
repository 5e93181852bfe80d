/**
 * Paths into the drop folder stay in it: a job file's `import:` that gets there through
 * `..` or leads out through a symbolic link is refused naming the job file and key, at
 * start and when it runs; a dropped file's job from the queue must name a regular file
 * directly in the folder, or it fails without touching the file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';
import { log } from '../../src/log.js';
import { followJob } from '../../src/queue/enqueue.js';
import { adhocJob, checkJobsAgainstConfig, loadJobDefinitions, requireJob } from '../../src/queue/load-jobs.js';
import { jobOptions, openQueueBackend, type QueueBackend } from '../../src/queue/queue-backend.js';
import { expandSteps } from '../../src/queue/units.js';
import { startWorkerService } from '../../src/queue/worker-service.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const quiet = log.child({}, { level: 'fatal' });
const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'ms-drop-path-')));
const inbox = path.join(root, 'inbox');
const outside = path.join(root, 'outside');
const secretFile = path.join(outside, 'secret.csv');
mkdirSync(path.join(inbox, 'ok'), { recursive: true });
mkdirSync(outside);
writeFileSync(secretFile, 'member_id,email\nX-1,x1@example.org\n');
symlinkSync(outside, path.join(inbox, 'out'));
symlinkSync(secretFile, path.join(inbox, 'linked.csv'));
symlinkSync(path.join(root, 'nowhere'), path.join(inbox, 'dangling'));

const prefix = `msdrop${randomBytes(4).toString('hex')}`;
const config = loadConfig({ env: {}, overrides: { dropFolder: { path: inbox, watch: false, stableMs: 0 }, worker: { prefix, attempts: 3, backoffMs: 50 } } });

function jobsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-drop-jobs-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

let db: TestDb;
let backend: QueueBackend;
beforeAll(async () => {
  db = await createTestDb();
  backend = await openQueueBackend({ config, log: quiet, databaseUrl: db.url });
});
afterAll(async () => {
  await backend?.close();
  await db?.drop();
  rmSync(root, { recursive: true, force: true });
});

describe('a job path into the drop folder', () => {
  const bad = {
    dotdot: [`${inbox}/../outside/`, /reaches the drop folder .* through '\.\.'/],
    'dotdot-inside': [`${inbox}/ok/../ok/`, /through '\.\.'/],
    'symlink-folder': [`${inbox}/out/`, /leads out of the drop folder .* through a symbolic link: its real path is .*outside/],
    'symlink-file': [`${inbox}/out/secret.csv`, /leads out of the drop folder/],
    'symlink-to-file': [`${inbox}/linked.csv`, /leads out of the drop folder/],
    dangling: [`${inbox}/dangling/x.csv`, /symbolic link that leads nowhere/],
  } as const;

  it('is refused at start naming the job file and key, scheduled or not', () => {
    for (const [name, [p, why]] of Object.entries(bad)) {
      const dir = jobsDir({ [`${name}.yaml`]: `steps:\n  - import: "${p}"\n` });
      const defs = loadJobDefinitions(dir);
      const message = errorOf(() => checkJobsAgainstConfig(defs, config, quiet));
      expect(message, name).toContain(`${path.join(dir, `${name}.yaml`)}: steps.0.import: '${p}'`);
      expect(message, name).toMatch(why);
      // queueing it names the file too; and at run time the steps are refused again
      expect(errorOf(() => requireJob(defs, name, config, dir))).toContain(`${name}.yaml: steps.0.import`);
      expect(errorOf(() => expandSteps(defs.get(name)!.steps, config, `job ${name}`))).toMatch(why);
    }
    // a migration from a file is a path too
    const migrate = jobsDir({ 'm.yaml': `steps:\n  - migrate: "${inbox}/out/secret.csv"\n    to: nobody\n` });
    expect(errorOf(() => checkJobsAgainstConfig(loadJobDefinitions(migrate), config, quiet))).toMatch(/m\.yaml: steps\.0\.migrate: .*leads out of the drop folder/);
    expect(errorOf(() => expandSteps(adhocJob(`[{import: "${inbox}/../outside/secret.csv"}]`).steps, config, 'adhoc'))).toMatch(/through '\.\.'/);
  });

  it('is accepted inside the folder for real, and paths elsewhere are not its business', () => {
    const dir = jobsDir({
      'inside.yaml': `steps:\n  - import: "${inbox}/ok/"\n  - import: "${inbox}/new-folder/"\n  - import: "${inbox}"\n`,
      'elsewhere.yaml': `steps:\n  - import: "${outside}/"\n  - import: ./drops/partner/\n`,
    });
    expect(() => checkJobsAgainstConfig(loadJobDefinitions(dir), config, quiet)).not.toThrow();
    expect(() => checkJobsAgainstConfig(loadJobDefinitions(path.resolve('jobs')), config, quiet)).not.toThrow();
  });
});

describe("a dropped file's job", () => {
  it('runs only for a regular file directly in the drop folder; otherwise it fails and leaves the file alone', async () => {
    const service = await startWorkerService({ config, log: quiet, db, backend, defs: new Map() });
    try {
      const sha256 = createHash('sha256').update(readFileSync(secretFile)).digest('hex');
      const payloads = {
        outside: secretFile,
        dotdot: `${inbox}/../outside/secret.csv`,
        symlink: path.join(inbox, 'linked.csv'),
        'through a linked folder': path.join(inbox, 'out', 'secret.csv'),
        relative: 'inbox/x.csv',
      };
      const jobs = await Promise.all(Object.values(payloads).map((p, i) => service.queue.add('drop', { v: 1, kind: 'drop', path: p, sha256, size: 1 }, { ...jobOptions(config), jobId: `drop-${i}-${sha256.slice(0, 8)}` })));
      const ends = await Promise.all(jobs.map((j) => followJob(service.queue, String(j.id), { pollMs: 50 })));
      for (const [i, [what, p]] of Object.entries(payloads).entries()) {
        expect(ends[i], what).toMatchObject({ state: 'failed', failedReason: expect.stringContaining(`payload: path: '${p}'`) });
        // failed at once: not retried
        expect((await service.queue.getJob(String(jobs[i].id)))?.attemptsMade, what).toBe(1);
      }
      // nothing was imported, nothing moved
      expect(existsSync(secretFile)).toBe(true);
      expect(existsSync(path.join(outside, 'processed'))).toBe(false);
      expect(await db.knex('runs').where({ kind: 'import' }).count({ n: '*' }).first()).toEqual({ n: 0 });

      // a real dropped file goes through
      const good = path.join(inbox, 'good.csv');
      writeFileSync(good, 'member_id,email\nG-1,g1@example.org\n');
      const goodSha = createHash('sha256').update(readFileSync(good)).digest('hex');
      const job = await service.queue.add('drop', { v: 1, kind: 'drop', path: good, sha256: goodSha }, { ...jobOptions(config), jobId: goodSha });
      expect(await followJob(service.queue, String(job.id), { pollMs: 50 })).toMatchObject({ state: 'completed' });
      expect(existsSync(path.join(inbox, 'processed', 'good.csv'))).toBe(true);
    } finally {
      await service.stop(5000);
    }
  });
});
