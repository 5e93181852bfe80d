/**
 * The lifecycle commands as a user runs them: the built bin in real processes, a real
 * database and the IKANOW simulator on loopback. members remove (and export's --status),
 * a file's status column, push's mass-delete guard (exit 1, nothing deleted) and
 * --allow-mass-delete, members erase with and without --yes, purge.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIkanowSimulator } from '../../src/connectors/ikanow/index.js';
import { cliIn, fileIn } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-lifecycle-e2e-'));

let db: TestDb;
let sim: Awaited<ReturnType<typeof startIkanowSimulator>>;
let env: Record<string, string>;

const cli = cliIn(dir, () => env);
const file = fileIn(dir);

beforeAll(async () => {
  db = await createTestDb();
  sim = await startIkanowSimulator();
  const config = {
    connections: {
      'ikanow-e2e': { kind: 'ikanow', baseUrl: sim.url, credentials: { apiKey: '${E2E_IKANOW_KEY}' }, rateLimit: { perSecond: 0, concurrency: 2 }, push: { deletes: true } },
    },
  };
  env = { DATABASE_URL: db.url, E2E_IKANOW_KEY: 'ikanow-sim-api-key', MEMBER_SYNC_CONFIG: file('config.yaml', JSON.stringify(config)) };
  await db.close();
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const people = (n: number, status = '') => ['member_id,email,first_name,status', ...Array.from({ length: n }, (_, i) => `L-${i + 1},l${i + 1}@example.org,Lee${i + 1},${i === 0 ? '' : status}`)].join('\n') + '\n';

describe('lifecycle commands', () => {
  it('remove, export --status, the mass-delete guard, --allow-mass-delete, erase, purge', async () => {
    expect((await cli(['import', file('all.csv', people(13))])).code).toBe(0);
    const pushed = await cli(['push', 'ikanow-e2e', '--json']);
    expect(pushed.code).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ created: 13, deleted: 0 });
    const inSim = () => [...sim.state.people.values()].filter((p) => p.email.startsWith('l')).length;
    expect(inSim()).toBe(13);

    const removed = await cli(['members', 'remove', 'l1@example.org', '--reason', 'moved away']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/^removed member [0-9a-f-]{36} \(run \d+; member-sync revert \d+ undoes it\): moved away\n$/);
    const again = await cli(['members', 'remove', 'l1@example.org']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is removed already since .* \(by hand.*: moved away\)/);
    expect((await cli(['members', 'show', 'l1@example.org'])).stdout).toMatch(/^status: removed since \S+ by hand\S*: moved away$/m);
    expect((await cli(['members', 'export'])).stdout).not.toContain('l1@example.org');
    expect((await cli(['members', 'export', '--status', 'removed'])).stdout.trim().split('\n')).toHaveLength(2);
    expect((await cli(['members', 'export', '--status', 'gone'])).code).toBe(1);

    // an export that lost almost everyone: the file says eleven more left
    expect((await cli(['import', file('left.csv', people(12, 'removed'))])).code).toBe(0);
    const plan = await cli(['push', 'ikanow-e2e', '--dry-run']);
    expect(plan.stdout.match(/^delete {2}l?\S+ \(remote [0-9a-f]+\): removed$/gm)).toHaveLength(12);
    expect(plan.code).toBe(1);
    const stopped = await cli(['push', 'ikanow-e2e']);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/^member-sync: push ikanow-e2e failed: 12 deletes planned at ikanow-e2e, more than push\.maxDeletes \(10: 5% of the 13 people it holds, at least 10\); nothing was deleted or sent/m);
    expect(inSim()).toBe(13);
    // a job's push step stops the same way: the job fails with the reason (no retry would help)
    const job = await cli(['run', '--steps', '[{push: ikanow-e2e}]']);
    expect(job.code).toBe(1);
    expect(job.stderr).toMatch(/12 deletes planned at ikanow-e2e/);
    expect(inSim()).toBe(13);
    const forced = await cli(['push', 'ikanow-e2e', '--allow-mass-delete']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/12 deleted/);
    expect(inSim()).toBe(1);

    const ask = await cli(['members', 'erase', 'L-13']);
    expect(ask).toMatchObject({ code: 0 });
    expect(ask.stdout).toMatch(/^would erase member [0-9a-f-]{36}: delete at ikanow-e2e; nothing done \(--yes erases\)\n$/);
    const erased = await cli(['members', 'erase', 'L-13', '--yes']);
    expect(erased.code).toBe(0);
    expect(erased.stdout).toMatch(/^erased member [0-9a-f-]{36} \(run \d+\); deleted at ikanow-e2e\n$/);
    expect(inSim()).toBe(0);
    const refused = await cli(['import', file('back.csv', 'member_id,email\nL-13,l13@example.org\n'), '--json']);
    expect(refused.stderr).toBe('');
    expect(JSON.parse(refused.stdout)).toMatchObject({ rejected: 1, created: 0 });

    expect((await cli(['purge', '--dry-run'])).stdout).toMatch(/no retention\.\* setting/);
  });
});
