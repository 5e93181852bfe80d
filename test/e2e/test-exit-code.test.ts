/**
 * The test runner's verdict reaches the shell on both database paths: a suite with a
 * failing test exits 1, a passing one 0 — with TEST_DATABASE_URL, and without it, where the
 * global setup starts an embedded PostgreSQL (whose package installs exit hooks). Each case
 * runs vitest on test/fixtures/exit-code, with the project's global setup.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';

const VITEST = path.resolve('node_modules/vitest/vitest.mjs');
const CONFIG = path.resolve('test/fixtures/exit-code/vitest.config.ts');
// a temporary directory of its own, so that the embedded server is started here, not
// borrowed from the outer run; open to the postgres user, who runs it when we are root
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ms-exit-code-'));
chmodSync(tmp, 0o755);

function vitest(fixture: 'fails' | 'passes', databaseUrl: string | undefined): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, FIXTURE: fixture, TMPDIR: tmp, CI: '1' };
  delete env.TEST_DATABASE_URL;
  delete env.VITEST;
  delete env.VITEST_POOL_ID;
  delete env.VITEST_WORKER_ID;
  if (databaseUrl) env.TEST_DATABASE_URL = databaseUrl;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [VITEST, 'run', '--config', CONFIG], { env, maxBuffer: 16 * 1024 * 1024 }, (_err, stdout, stderr) => {
      resolve({ code: child.exitCode, output: `${stdout}\n${stderr}` });
    });
  });
}

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('npm test exit code', () => {
  for (const [what, url] of [
    ['embedded PostgreSQL (no TEST_DATABASE_URL)', undefined],
    ['TEST_DATABASE_URL', 'outer'],
  ] as const) {
    it(`is 1 with a failing test and 0 without, on the ${what}`, { timeout: 180_000 }, async () => {
      const databaseUrl = url && inject('databaseUrl');
      const failed = await vitest('fails', databaseUrl);
      expect(failed.output).toMatch(/1 failed/);
      expect(failed.code, failed.output.slice(-3000)).toBe(1);
      const passed = await vitest('passes', databaseUrl);
      expect(passed.output).toMatch(/1 passed/);
      expect(passed.code, passed.output.slice(-3000)).toBe(0);
      expect(passed.output).not.toMatch(/is not a function/);
    });
  }
});
