/** `member-sync gen members`: the built CLI, a few hundred rows, no database. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CSV_HEADER } from '../../src/members/generate.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-gen-'));

async function gen(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'gen', 'members', ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('member-sync gen members', () => {
  it('writes the same bytes for the same arguments, to stdout or to a file', async () => {
    const a = await gen(['300', '--seed', '5']);
    const b = await gen(['300', '--seed', '5']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const lines = a.stdout.split('\r\n');
    expect(lines[0]).toBe(CSV_HEADER.join(','));
    expect(lines).toHaveLength(302); // header, 300 rows, '' after the last CRLF
    const file = path.join(dir, 'm.csv');
    const c = await gen(['300', '--seed', '5', '--out', file]);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/m\.csv: 300 rows/);
    expect(readFileSync(file, 'utf8')).toBe(a.stdout);
    expect(existsSync(`${file}.part`)).toBe(false);
    const other = await gen(['300', '--seed', '6']);
    expect(other.stdout).not.toBe(a.stdout);
  });

  it('restates earlier people at the dup rate, and none at --dup-rate 0', async () => {
    const consIds = (csv: string) => csv.split('\r\n').slice(1, -1).map((l) => l.split(',')[0]);
    const dup = consIds((await gen(['400', '--dup-rate', '0.3'])).stdout);
    const blank = dup.filter((c) => c === '').length;
    expect(blank).toBeGreaterThan(40);
    const unique = consIds((await gen(['400', '--dup-rate', '0'])).stdout);
    expect(new Set(unique).size).toBe(400);
  });

  it('refuses bad arguments with a one-line message', async () => {
    const r = await gen(['10', '--dup-rate', '1.5']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("member-sync: --dup-rate: expected a number from 0 to 1, got '1.5'");
    const n = await gen(['ten']);
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/<n>: expected a non-negative integer, got 'ten'/);
    const help = await gen(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:/);
  });
});
