/**
 * `member-sync import` at a terminal (a pseudo-terminal read by a headless xterm) and in a
 * pipe: log lines above the progress bar, a summary that stands alone, Ctrl-C that stops
 * after the batch in hand, says so, leaves the terminal as it was and records the run
 * interrupted; the same import again continues to the store of an uninterrupted one.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { onPty } from './pty.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-terminal-'));
const ROWS = 30_000;

let db: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  db = await createTestDb();
  const config = path.join(dir, 'config.yaml');
  // small batches: many of them in a file that takes a few seconds
  writeFileSync(config, 'import:\n  batchSize: 500\n');
  env = { DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: config, LOG_LEVEL: 'info' };
  await run(process.execPath, [BIN, 'gen', 'members', '5000', '--seed', '3', '--out', path.join(dir, 'small.csv')], { cwd: dir });
  await run(process.execPath, [BIN, 'gen', 'members', String(ROWS), '--seed', '4', '--out', path.join(dir, 'big.csv')], { cwd: dir });
}, 120_000);
afterAll(async () => {
  await db?.drop();
});

const members = async (d: TestDb): Promise<string[]> =>
  (await d.knex('members').select('cons_id', 'member_id', 'email', 'first_name', 'last_name', 'city')).map((m) => JSON.stringify(m)).sort();

describe('import at a terminal', () => {
  it('prints log lines above the progress bar and the summary on lines of its own', { timeout: 120_000 }, async () => {
    const t = onPty([process.execPath, BIN, 'import', 'small.csv'], { cwd: dir, env });
    expect(await t.exit).toBe(0);
    const screen = await t.screen();
    const at = (re: RegExp) => screen.findIndex((l) => re.test(l));
    const started = at(/INFO: import started/);
    const finished = at(/INFO: import finished/);
    const summary = at(/^small\.csv: 5000 rows: \d+ created, \d+ updated, \d+ unchanged, \d+ conflicts, \d+ rejected \(run 1\)$/);
    expect(started, screen.join('\n')).toBeGreaterThanOrEqual(0);
    expect(finished, screen.join('\n')).toBeGreaterThan(started);
    expect(summary, screen.join('\n')).toBeGreaterThan(finished);
    // the fields of the log lines are all there: nothing was drawn over them
    expect(screen.slice(started, finished).join('\n')).toMatch(/sha256: "[0-9a-f]{64}"[\s\S]*mapping: "canonical"/);
    expect(screen.slice(finished, summary).join('\n')).toMatch(/rows: 5000/);
    expect(screen.slice(summary + 1)).toEqual(['  conflicts: member-sync conflicts --run 1', '  rejects:   member-sync rejects --run 1']);
    // the bar cleared itself
    expect(screen.filter((l) => /[█░]/.test(l))).toEqual([]);
    expect(t.terminal.modes.wraparoundMode).toBe(true);
  });

  it('Ctrl-C stops after the batch in hand, says so, restores the terminal; the same import again continues', { timeout: 240_000 }, async () => {
    const t = onPty([process.execPath, BIN, 'import', 'big.csv'], { cwd: dir, env, cols: 160 });
    await t.waitFor(/big\.csv \[.*\| [1-9]\d* rows/);
    t.type('\x03');
    expect(await t.exit).toBe(130);
    const screen = (await t.screen()).join('\n');
    expect(screen).toMatch(/member-sync: SIGINT: stopping after the batch in hand \(press Ctrl-C again to quit at once\)/);
    const stopped = /big\.csv: interrupted after (\d+) rows: .*\(run (\d+)\)\n {2}stopped on request: run the same import again to continue/.exec(screen);
    expect(stopped, screen).not.toBeNull();
    const [rows, runId] = [Number(stopped![1]), Number(stopped![2])];
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(ROWS);
    // the terminal as it was: line wrapping on, the cursor shown again
    expect(t.terminal.modes.wraparoundMode).toBe(true);
    expect(t.raw().lastIndexOf('\x1b[?25h')).toBeGreaterThan(t.raw().lastIndexOf('\x1b[?25l'));
    expect(await db.knex('runs').where({ id: runId }).first()).toMatchObject({ status: 'interrupted', rows });
    expect(await db.knex('imported_files').count({ n: '*' }).first()).toEqual({ n: 1 }); // small.csv only

    // again: the whole file, the rows already in unchanged, and the file recorded once
    const again = await run(process.execPath, [BIN, 'import', 'big.csv', '--json'], { cwd: dir, env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
    const s = JSON.parse(again.stdout);
    expect(s).toMatchObject({ rows: ROWS });
    expect(s.unchanged).toBeGreaterThanOrEqual(rows - s.conflicts - s.rejected);
    expect(s).not.toHaveProperty('interrupted');
    expect(await db.knex('imported_files').where({ name: 'big.csv' }).count({ n: '*' }).first()).toEqual({ n: 1 });
    const twin = await createTestDb();
    try {
      for (const f of ['small.csv', 'big.csv']) await run(process.execPath, [BIN, 'import', f], { cwd: dir, env: { ...process.env, ...env, DATABASE_URL: twin.url, LOG_LEVEL: 'warn' } });
      expect(await members(db)).toEqual(await members(twin));
    } finally {
      await twin.drop();
    }
  });
});

describe('import at a terminal with the embedded PostgreSQL (no DATABASE_URL)', () => {
  it('Ctrl-C reaches member-sync, not the server: the batch in hand is committed, then the server stops', { timeout: 240_000 }, async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ms-terminal-embedded-'));
    const t = onPty([process.execPath, BIN, 'import', 'big.csv'], { cwd: dir, env: { ...env, DATABASE_URL: undefined, MEMBER_SYNC_DATA_DIR: dataDir }, cols: 160 });
    await t.waitFor(/big\.csv \[.*\| [1-9]\d* rows/, 180_000);
    t.type('\x03');
    expect(await t.exit).toBe(130);
    const screen = (await t.screen()).join('\n');
    expect(screen).toMatch(/big\.csv: interrupted after \d+ rows: .*\(run 1\)/);
    expect(screen).not.toMatch(/shutting down|terminat/);
    // the server went with the command: nothing listens on its data directory
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});

describe('import in a pipe', () => {
  it('SIGTERM stops it the same way: the JSON summary says interrupted, exit 130', { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, [BIN, 'import', 'big.csv', '--force', '--json'], { cwd: dir, env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((r) => child.on('close', r));
    // once a batch of this run is in
    for (;;) {
      const r = await db.knex('runs').where({ status: 'running' }).where('rows', '>', 0).first();
      if (r) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    child.kill('SIGTERM');
    expect(await exit).toBe(130);
    expect(stderr).toBe('member-sync: SIGTERM: stopping after the batch in hand (press Ctrl-C again to quit at once)\n');
    const s = JSON.parse(stdout);
    expect(s).toMatchObject({ interrupted: true });
    expect(await db.knex('runs').where({ id: s.run_id }).first()).toMatchObject({ status: 'interrupted', rows: s.rows });
  });
});
