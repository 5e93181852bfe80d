/**
 * A secret written in a config file as it is (not `${ENV}`) is warned about, naming the
 * file and the key and never the value; `${ENV}` values and account names are not.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-config-secret-'));
const file = path.join(dir, 'config.yaml');
const LITERAL = 'Zx1-literal-apikey-in-yaml-SECRET';
writeFileSync(
  file,
  [
    'connections:',
    '  convio-lit:',
    '    kind: convio',
    '    baseUrl: http://127.0.0.1:1',
    `    credentials: { apiKey: "${LITERAL}", loginName: api-admin, loginPassword: "\${LIT_TEST_PASSWORD}" }`,
    '    options: { groupIds: [1] }',
  ].join('\n'),
);

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a literal secret in a config file', () => {
  it('is named, by file and key, and only it', () => {
    const warnings: string[] = [];
    loadConfig({ env: { MEMBER_SYNC_CONFIG: file, LIT_TEST_PASSWORD: 'from-the-env' }, cwd: dir, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/config\.yaml: connections\.convio-lit\.credentials\.apiKey: a secret is written in the file/)]);
    expect(warnings[0]).toContain(file);
    expect(warnings.join('\n')).not.toContain(LITERAL);
  });

  it('is warned about on stderr when the CLI runs, without the value', async () => {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'runs', '--json'], {
      cwd: dir,
      env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', MEMBER_SYNC_CONFIG: file, LIT_TEST_PASSWORD: 'from-the-env', DATABASE_URL: db.url },
    });
    expect(stderr).toContain(`${file}: connections.convio-lit.credentials.apiKey: a secret is written in the file`);
    expect(stderr).not.toMatch(/loginName|loginPassword/);
    expect(stderr + stdout).not.toContain(LITERAL);
  });
});
