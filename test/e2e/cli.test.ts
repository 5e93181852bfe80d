/** The CLI as a user runs it: the built bin, real processes, real databases. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-e2e-'));

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let db: TestDb;
let env: Record<string, string>;
beforeAll(async () => {
  db = await createTestDb();
  env = { DATABASE_URL: db.url };
});
afterAll(async () => {
  await db?.drop();
});

describe('member-sync CLI', () => {
  it('imports the example file and prints the JSON summary', async () => {
    const r = await cli(['import', path.resolve('examples/members.csv'), '--json'], env);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(Object.keys(s).slice(0, 8)).toEqual(['run_id', 'file', 'rows', 'created', 'updated', 'unchanged', 'conflicts', 'rejected']);
    expect(s.rows).toBe(s.created + s.updated + s.unchanged + s.conflicts + s.rejected);
    expect(s.created).toBeGreaterThan(200);
    expect(s.conflicts).toBeGreaterThan(0);
    expect(s.rejected).toBeGreaterThan(0);
  });

  it('shows a member with provenance, links and history; exports; lists runs, conflicts and rejects', async () => {
    const show = await cli(['members', 'show', 'M-000011'], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/rule 2: same member_id/);
    expect(show.stdout).toMatch(/from source/);
    expect(show.stdout).toMatch(/source records/);
    const exp = await cli(['members', 'export'], env);
    const lines = exp.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^id,cons_id,member_id,email,first_name/);
    expect(lines.length).toBeGreaterThan(200);
    const jsonl = await cli(['members', 'export', '--format', 'jsonl'], env);
    expect(JSON.parse(jsonl.stdout.split('\n')[0])).toHaveProperty('email');
    const runs = await cli(['runs', '--json'], env);
    expect(JSON.parse(runs.stdout.split('\n')[0])).toMatchObject({ kind: 'import', status: 'succeeded' });
    const conflicts = await cli(['conflicts', '--json'], env);
    expect(conflicts.stdout).toMatch(/cons_id_mismatch/);
    const rejects = await cli(['rejects', '--csv'], env);
    expect(rejects.stdout.split('\n')[0]).toMatch(/^run_id,line,reason/);
    const one = await cli(['runs', 'show', '1'], env);
    expect(one.stdout).toMatch(/member-sync conflicts --run 1/);
  });

  it('exits 1 with a one-line message for bad input', async () => {
    const missing = await cli(['import', 'nope.csv'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('member-sync: cannot read nope.csv: ENOENT');
    const f = path.join(dir, 'noid.csv');
    writeFileSync(f, 'first_name\nAna\n');
    const noid = await cli(['import', f], env);
    expect(noid.code).toBe(1);
    expect(noid.stderr).toMatch(/missing required headers/);
    const mapping = await cli(['import', f, '--mapping', 'bogus'], env);
    expect(mapping.stderr).toMatch(/unknown mapping 'bogus'/);
    const down = await cli(['runs'], { DATABASE_URL: 'postgres://nobody:hunter2secret@127.0.0.1:1/x' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the database/);
    expect(down.stderr).not.toMatch(/hunter2secret/);
  });

  it('--dry-run reports the counts and writes nothing', async () => {
    const f = path.join(dir, 'dry.csv');
    writeFileSync(f, 'email,first_name\ndry1@x.org,D\n');
    const r = await cli(['import', f, '--dry-run', '--json'], env);
    expect(JSON.parse(r.stdout)).toMatchObject({ run_id: null, created: 1, dry_run: true });
    const show = await cli(['members', 'show', 'dry1@x.org'], env);
    expect(show.code).toBe(1);
  });

  it('every command has --help', async () => {
    for (const c of [[], ['import'], ['members'], ['members', 'export'], ['members', 'show'], ['conflicts'], ['rejects'], ['runs'], ['runs', 'show'], ['demo'], ['pull'], ['sandbox']]) {
      const r = await cli([...c, '--help']);
      expect(r.code, c.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: member-sync/);
    }
  });

  it('demo pulls the sandbox sources and imports the example file', async () => {
    const r = await cli(['demo'], env);
    expect(r.code).toBe(0);
    for (const name of ['convio-sandbox', 'ikanow-sandbox', 'community-sandbox', 'vocdoni-sandbox']) expect(r.stdout).toMatch(new RegExp(`${name}: \\d+ records`));
    expect(r.stdout).toMatch(/examples\/members.csv: 312 rows/);
  });

  it('a connection with bad options fails at start naming the key', async () => {
    const cfg = path.join(dir, 'bad.yaml');
    writeFileSync(cfg, 'connections:\n  voc:\n    kind: vocdoni\n    baseUrl: http://127.0.0.1:1/\n    credentials: { token: x1234 }\n');
    const r = await cli(['pull', 'voc'], { ...env, MEMBER_SYNC_CONFIG: cfg });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/connections\.voc\.options\.organizationAddress/);
    writeFileSync(cfg, 'connections:\n  voc:\n    kind: vocdonii\n    baseUrl: http://127.0.0.1:1/\n');
    const k = await cli(['runs'], { ...env, MEMBER_SYNC_CONFIG: cfg });
    expect(k.stderr).toMatch(/bad.yaml: connections.voc.kind: expected one of convio, ikanow, community, wevote, vocdoni/);
  });

  it('without DATABASE_URL it starts an embedded PostgreSQL in MEMBER_SYNC_DATA_DIR', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'ms-embedded-'));
    const f = path.join(dir, 'emb.csv');
    writeFileSync(f, 'email,first_name\nemb@x.org,E\n');
    const r = await cli(['import', f, '--json'], { DATABASE_URL: undefined, MEMBER_SYNC_DATA_DIR: dataDir });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ created: 1 });
    const again = await cli(['members', 'show', 'emb@x.org', '--json'], { DATABASE_URL: undefined, MEMBER_SYNC_DATA_DIR: dataDir });
    expect(JSON.parse(again.stdout).member.first_name).toBe('E');
  });
});
