/**
 * `member-sync demo` (what `npm run demo` runs) does the whole job on a fresh machine:
 * the built bin, an embedded PostgreSQL in a fresh data dir (no DATABASE_URL), stdout a
 * pipe. It pulls the sandbox's four sources, imports the example, pushes to Vocdoni,
 * WeVote and the community, pushes again with nothing resent, and closes with one line.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ms-demo-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('member-sync demo', () => {
  it('pulls, imports, pushes to three systems, pushes again sending nothing, and says what it did in one closing line', { timeout: 180_000 }, async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, MEMBER_SYNC_DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    delete env.LOG_LEVEL;
    const { stdout } = await run(process.execPath, [BIN, 'demo', '--people', '100'], { cwd: dataDir, env, maxBuffer: 16 * 1024 * 1024 });
    const lines = stdout.trim().split('\n');
    for (const name of ['convio-sandbox', 'ikanow-sandbox', 'community-sandbox', 'vocdoni-sandbox']) expect(stdout).toMatch(new RegExp(`^${name}: \\d+ records`, 'm'));
    expect(stdout).toMatch(/^examples\/members.csv: 312 rows/m);
    for (const name of ['vocdoni-sandbox', 'wevote-sandbox', 'community-sandbox']) {
      const first = lines.find((l) => l.startsWith(`${name}: `) && /selected/.test(l));
      expect(first, name).toBeDefined();
      expect(lines.find((l) => l.startsWith(`again: ${name}: `)), name).toMatch(/: 0 selected: .*; 0 requests/);
    }
    // something was sent where the store had news for the system
    for (const name of ['vocdoni-sandbox', 'wevote-sandbox']) expect(lines.find((l) => l.startsWith(`${name}: `) && /selected/.test(l))).toMatch(/: [1-9]\d* created/);
    const closing = lines.find((l) => l.startsWith('done: '));
    expect(closing).toMatch(/^done: [\d,]+ members; [\d,]+ records read, [\d,]+ of them merged into a member already there; \d+ conflicts waiting for review; pushed [1-9][\d,]* \([\d,]+ created, [\d,]+ updated\) to vocdoni, wevote, community; pushed again: nothing resent$/);
    // nothing a person must not see: no log line on stdout, no stack
    expect(stdout).not.toMatch(/"level":|\bat .*\.js:\d+/);
  });
});
