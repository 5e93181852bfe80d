/**
 * push, migrate, revert and `runs show` as a user runs them: the built bin in real
 * processes, a real database, the Convio simulator on loopback in this process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConvioSimulator } from '../../src/connectors/convio/index.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-push-e2e-'));
const PASSWORD = 'e2e-very-secret-password';

let db: TestDb;
let sim: Awaited<ReturnType<typeof startConvioSimulator>>;
let env: Record<string, string>;

/** every stdout and stderr, checked for the secret at the end */
const outputs: string[] = [];

async function cli(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let r: { code: number; stdout: string; stderr: string };
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn', ...env, ...extra }, maxBuffer: 16 * 1024 * 1024 });
    r = { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    r = { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
  outputs.push(r.stdout, r.stderr);
  return r;
}

function csv(name: string, content: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}

beforeAll(async () => {
  db = await createTestDb();
  sim = await startConvioSimulator({
    loginPassword: PASSWORD,
    people: [
      { member_id: 'M-9', email: 'nine-a@example.org', first_name: 'Nine' },
      { member_id: 'M-9', email: 'nine-b@example.org', first_name: 'Nine' },
    ],
  });
  const config = csv(
    'config.yaml',
    `connections:
  convio-e2e:
    kind: convio
    baseUrl: ${sim.url}
    credentials:
      apiKey: "\${E2E_CONVIO_API_KEY}"
      loginName: sim-admin
      loginPassword: "\${E2E_CONVIO_PASSWORD}"
    rateLimit: { perSecond: 0, concurrency: 2 }
    options: { groupIds: [1001] }
`,
  );
  // secrets from the environment, as a config should hold them (a literal one is warned about)
  env = { DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: config, E2E_CONVIO_PASSWORD: PASSWORD, E2E_CONVIO_API_KEY: 'convio-sim-api-key' };
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const cons = (memberId: string) => [...sim.state.constituents.values()].filter((c) => c.member_id === memberId);

describe('member-sync push / migrate / revert CLI', () => {
  let importRun = 0;

  it('push --dry-run prints the plan and sends nothing; --plan writes it as JSON lines', async () => {
    const imp = await cli(['import', csv('a.csv', 'member_id,email,first_name,city\nM-1,ana@example.org,Ana,Oslo\nM-2,bob@example.org,Bob,Lyon\nM-9,nine@example.org,Nina,Rome\n'), '--json']);
    expect(imp.code).toBe(0);
    const dry = await cli(['push', 'convio-e2e', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^create  M-1\n {4}member_id: ∅ -> "M-1"/m);
    expect(dry.stdout).toMatch(/primary_address\.city: ∅ -> "Oslo"/);
    expect(dry.stdout).toMatch(/convio-e2e: 3 selected: 3 to create, 0 to update, 0 to skip; 0 unchanged; 0 requests \(dry run, nothing sent\)/);
    const planFile = path.join(dir, 'plan.jsonl');
    const withPlan = await cli(['push', 'convio-e2e', '--dry-run', '--plan', planFile, '--json']);
    expect(JSON.parse(withPlan.stdout)).toMatchObject({ run_id: null, selected: 3, requests: 0 });
    const lines = readFileSync(planFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.member, l.action]).sort()).toEqual([
      ['M-1', 'create'],
      ['M-2', 'create'],
      ['M-9', 'create'],
    ]);
    expect(sim.requests.total).toBe(0);
  });

  it('push --json prints the summary; a second push sends nothing; runs show lists the failed push with the remote error', async () => {
    const r = await cli(['push', 'convio-e2e', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(Object.keys(s)).toEqual(['run_id', 'connection', 'selected', 'created', 'updated', 'unchanged', 'failed', 'requests', 'skipped', 'skip_reasons', 'deleted', 'delete_failed']);
    expect(s).toMatchObject({ connection: 'convio-e2e', selected: 3, created: 2, updated: 0, failed: 1 });
    expect(s.requests).toBe(sim.requests.total);
    const again = JSON.parse((await cli(['push', 'convio-e2e', '--json'])).stdout);
    expect(again).toMatchObject({ selected: 0, requests: 0, unchanged: 3 });
    const human = await cli(['push', 'convio-e2e']);
    expect(human.stdout).toMatch(/1 failed before and did not change: not sent \(--retry-failed sends them\)/);
    const show = await cli(['runs', 'show', String(s.run_id)]);
    expect(show.stdout).toMatch(/failed pushes \(1\):\n {2}M-9 \(permanent\): convio-e2e: HTTP 403 code 15: Update failed: matched multiple records\./);
    const json = JSON.parse((await cli(['runs', 'show', String(s.run_id), '--json'])).stdout);
    expect(json).toMatchObject({ kind: 'push', failed_pushes_total: 1, failed_pushes: [expect.objectContaining({ remote_code: '15', status: 'failed' })] });
  });

  it('revert puts back what an import changed, and the next push sends it', async () => {
    const imp = JSON.parse((await cli(['import', csv('b.csv', 'member_id,city\nM-1,Paris\n'), '--json'])).stdout);
    importRun = imp.run_id;
    expect(JSON.parse((await cli(['push', 'convio-e2e', '--json'])).stdout)).toMatchObject({ updated: 1 });
    expect(cons('M-1')[0].city).toBe('Paris');
    const dry = await cli(['revert', String(importRun), '--dry-run']);
    expect(dry.stdout).toMatch(/restore M-1 city: "Paris" -> "Oslo"/);
    expect(dry.stdout).toMatch(/1 fields restored, 0 skipped, 0 members removed, 0 kept \(dry run, nothing written\)/);
    const real = await cli(['revert', String(importRun)]);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/revert of run \d+: 1 fields restored/);
    expect(JSON.parse((await cli(['push', 'convio-e2e', '--json'])).stdout)).toMatchObject({ updated: 1, failed: 0 });
    expect(cons('M-1')[0].city).toBe('Oslo');
    const runs = (await cli(['runs', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(runs.map((r) => r.kind)).toContain('revert');
  });

  it('migrate imports a file and pushes it, as one run with child runs', async () => {
    const r = await cli(['migrate', '--from', csv('c.csv', 'member_id,email,first_name\nM-20,t@example.org,Tess\n'), '--to', 'convio-e2e', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ source: { kind: 'import', created: 1 }, pushes: [expect.objectContaining({ connection: 'convio-e2e', created: 1 })] });
    expect(cons('M-20')).toHaveLength(1);
    const show = JSON.parse((await cli(['runs', 'show', String(s.run_id), '--json'])).stdout);
    expect(show).toMatchObject({ kind: 'migrate', status: 'succeeded' });
  });

  it('bad input fails with one line; no secret in any output; every new command has --help', async () => {
    const unknown = await cli(['push', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^member-sync: unknown connection 'nope'; configured: convio-e2e\n$/);
    const badRun = await cli(['revert', 'x']);
    expect(badRun.stderr).toMatch(/run_id: expected a run number/);
    const badPlan = await cli(['push', 'convio-e2e', '--dry-run', '--plan', '/nonexistent/dir/p.jsonl']);
    expect(badPlan.stderr).toMatch(/--plan: cannot write .*ENOENT/);
    for (const c of [['push'], ['migrate'], ['revert']]) {
      const h = await cli([...c, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/Usage: member-sync/);
    }
    // a wrong password: Convio answers code 3, a failure of the connection: the push stops
    // with it in one line (exit 1), without the credential
    const WRONG = 'wrong-but-secret-password';
    const wrong = await cli(['push', 'convio-e2e', '--retry-failed', '--json'], { E2E_CONVIO_PASSWORD: WRONG, LOG_LEVEL: 'debug' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^member-sync: convio-e2e: HTTP 403 code 3: Authorization failed\.$/m);
    expect(outputs.length).toBeGreaterThan(20);
    for (const o of outputs) {
      expect(o).not.toContain(PASSWORD);
      expect(o).not.toContain(WRONG);
    }
  });
});
