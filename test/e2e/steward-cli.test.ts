/**
 * The steward's commands as a user runs them (issue 13): the built bin in real processes
 * and a real database. `conflicts` lists the queue; `conflicts resolve` each way;
 * `members merge`, after which the absorbed id answers `members show` with "merged into";
 * `revert` of a merge; `member-sync review` prints its address and a sign-in token, serves
 * the page on loopback, and never logs the token.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cliIn, fileIn } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-steward-e2e-'));

let db: TestDb;
let env: Record<string, string>;

const cli = cliIn(dir, () => env);
const file = fileIn(dir);

beforeAll(async () => {
  db = await createTestDb();
  env = { DATABASE_URL: db.url };
  await db.close();
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('steward commands', () => {
  it('lists the queue, resolves conflicts each way, merges two members and reverts the merge', { timeout: 180_000 }, async () => {
    expect((await cli(['import', file('a.csv', 'cons_id,member_id,email,first_name\nC1,M1,ana@x.org,Ana\nC2,M2,bo@x.org,Bo\nC3,M3,cy@x.org,Cy\n'), '--source', 'a'])).code).toBe(0);
    expect((await cli(['import', file('b.csv', 'cons_id,member_id,email,city\nC1,M9,ana@x.org,Lima\nC2,M8,bo@x.org,Quito\nC3,M3,ana@x.org,Cali\n'), '--source', 'b'])).code).toBe(0);
    const list = await cli(['conflicts']);
    expect(list.stdout).toMatch(/3 conflicts \(2 member_id_mismatch, 1 duplicate_email\); open 3, resolved 0, ignored 0/);
    const rows = (await cli(['conflicts', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; reason: string; record: { values: { cons_id: string } } });
    const byCons = (c: string) => rows.find((r) => r.record.values.cons_id === c)!.id;

    const none = await cli(['conflicts', 'resolve', String(byCons('C1'))]);
    expect(none).toMatchObject({ code: 1, stderr: 'member-sync: say what to do with the conflict: one of --merge-into <member>, --new-member, --ignore\n' });
    const merged = await cli(['conflicts', 'resolve', String(byCons('C1')), '--merge-into', 'ana@x.org']);
    expect(merged.code).toBe(0);
    expect(merged.stdout).toMatch(/^conflict \d+ resolved: merged into member [0-9a-f-]{36} \(run \d+; member-sync revert \d+ undoes it\)\n  member_id: "M1" -> "M9"/);
    const clash = await cli(['conflicts', 'resolve', String(byCons('C3')), '--merge-into', 'C3']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/^member-sync: cannot merge conflict \d+ into member [0-9a-f-]{36}: email "ana@x.org" is held by member [0-9a-f-]{36} \(identity keys are unique/);
    expect((await cli(['conflicts', 'resolve', String(byCons('C2')), '--ignore'])).stdout).toBe(`conflict ${byCons('C2')} ignored\n`);
    const again = await cli(['conflicts', 'resolve', String(byCons('C2')), '--ignore']);
    expect(again.stderr).toMatch(/^member-sync: conflict \d+ is ignored already \(by cli:/);
    expect((await cli(['conflicts', '--state', 'all'])).stdout).toMatch(/open 1, resolved 1, ignored 1/);

    const bo = JSON.parse((await cli(['members', 'show', 'C2', '--json'])).stdout).member;
    const m = await cli(['members', 'merge', 'C1', 'C2']);
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(new RegExp(`^merged member ${bo.id} into [0-9a-f-]{36} \\(run (\\d+); member-sync revert \\d+ undoes it\\): moved file:a:cons_id:C2`));
    const runId = /\(run (\d+);/.exec(m.stdout)![1];
    const show = await cli(['members', 'show', bo.id]);
    expect(show).toMatchObject({ code: 0 });
    expect(show.stdout).toMatch(new RegExp(`^member ${bo.id} was merged into [0-9a-f-]{36} \\(run ${runId}\\): member-sync members show`));
    expect((await cli(['runs', 'show', runId])).stdout).toMatch(/merge/);
    const r = await cli(['revert', runId]);
    expect(r.code).toBe(0);
    expect(JSON.parse((await cli(['members', 'show', bo.id, '--json'])).stdout).member).toMatchObject({ id: bo.id, cons_id: 'C2', email: 'bo@x.org' });
  });

  it('review prints its address and a sign-in token, serves the page, and logs no token', { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [BIN, 'review', '--port', '0'], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'debug', ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      for (let i = 0; i < 450 && !/Ctrl-C/.test(out) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      expect(out, `member-sync review did not start: ${err}`).toMatch(/Ctrl-C/);
      const url = /^review page: (http:\/\/127\.0\.0\.1:\d+\/review)$/m.exec(out)![1];
      const token = /^sign-in token \(this run only\): (\S+)$/m.exec(out)![1];
      expect(token.length).toBeGreaterThanOrEqual(32);
      expect((await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(20_000) })).headers.get('location')).toBe('/review/sign-in');
      const signIn = await fetch(`${url}/sign-in`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual', signal: AbortSignal.timeout(20_000) });
      expect(signIn.status).toBe(303);
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
      const queue = await fetch(url, { headers: { cookie }, signal: AbortSignal.timeout(20_000) });
      expect(queue.status).toBe(200);
      expect(await queue.text()).toMatch(/Open conflicts/);
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
    expect(err).not.toContain(/sign-in token \(this run only\): (\S+)/m.exec(out)![1]);
  });
});
