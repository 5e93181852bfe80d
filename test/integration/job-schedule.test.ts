/**
 * A job's schedule is checked with cron-parser, the parser BullMQ's job schedulers use: a
 * pattern with fields out of range stops the start naming the file and the key.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadJobDefinitions } from '../../src/queue/load-jobs.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function load(schedule: string): { file: string; run: () => unknown } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-schedule-'));
  dirs.push(dir);
  const file = path.join(dir, 'nightly.yaml');
  writeFileSync(file, `schedule: "${schedule}"\nsteps:\n  - pull: "*"\n`);
  return { file, run: () => loadJobDefinitions(dir) };
}

describe('job schedules', () => {
  it('refuses "99 99 * * *" with the file and the key', () => {
    const { file, run } = load('99 99 * * *');
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(`${file}: schedule: "99 99 * * *" is not a valid cron pattern (`);
  });

  it.each(['61 * * * *', '0 25 * * *', '0 2 32 * *', '0 2 * 13 *', '0 2 * * 8', '0 0 31 2 *', '60 0 2 * * *', '0 2-1x * * *'])('refuses %s', (pattern) => {
    const { file, run } = load(pattern);
    expect(run).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: schedule: `));
  });

  it.each(['0 2 * * *', '*/10 * 3 * * *', '0 2 * * MON-FRI', '30 4 1,15 * *', '0 0 29 2 *'])('accepts %s', (pattern) => {
    const { run } = load(pattern);
    expect((run() as Map<string, { schedule?: string }>).get('nightly')?.schedule).toBe(pattern);
  });
});
