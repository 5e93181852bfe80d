/**
 * How the CLI talks when things are not as they should be, as a user meets it: output
 * piped into a reader that goes away, a database that cannot be reached, a typo, a drop
 * folder whose file has just landed, the sandbox started twice with one seed.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConvioSimulator } from '../../src/connectors/convio/index.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-behaves-'));

type Result = { code: number; stdout: string; stderr: string };

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as Result;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Runs the CLI with a stdout whose reader is gone before anything is written (`| head` that has had enough). */
function withClosedReader(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

let db: TestDb;
let sim: Awaited<ReturnType<typeof startConvioSimulator>>;
let env: Record<string, string>;
beforeAll(async () => {
  db = await createTestDb();
  sim = await startConvioSimulator({ loginPassword: 'behaves-password', people: [] });
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    `connections:
  convio-e2e:
    kind: convio
    baseUrl: ${sim.url}
    credentials: { apiKey: "\${E2E_CONVIO_API_KEY}", loginName: "\${E2E_CONVIO_LOGIN}", loginPassword: "\${E2E_CONVIO_PASSWORD}" }
    rateLimit: { perSecond: 0, concurrency: 2 }
    options: { groupIds: [1001] }
# long enough that a file written by a test is still "just landed" when the run looks
dropFolder: { stableMs: 60000 }
`,
  );
  // credentials from the environment, as a config should have them
  env = { DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: config, E2E_CONVIO_API_KEY: 'convio-sim-api-key', E2E_CONVIO_LOGIN: 'sim-admin', E2E_CONVIO_PASSWORD: 'behaves-password' };
  const imp = await cli(['import', path.resolve('examples/members.csv'), '--json'], env);
  expect(imp.code).toBe(0);
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

function noSuchRole(url: string): string {
  const u = new URL(url);
  u.username = 'no_such_role';
  u.password = 'pw-secret-1';
  return u.toString();
}

describe('the CLI when things go wrong', () => {
  it('ends quietly, exit 0, when the reader of its output goes away (EPIPE)', async () => {
    for (const args of [['members', 'export'], ['members', 'export', '--format', 'jsonl'], ['rejects'], ['rejects', '--csv'], ['runs'], ['runs', 'show', '1'], ['conflicts'], ['push', 'convio-e2e', '--dry-run']]) {
      const r = await withClosedReader(args, env);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.code, args.join(' ')).toBe(0);
    }
  });

  it('says in one line, without a stack, that the database cannot be reached or is misconfigured', async () => {
    const cases: [string, RegExp][] = [
      ['postgres://postgres@127.0.0.1:1/x', /^member-sync: cannot reach the database at postgres:\/\/postgres@127\.0\.0\.1:1\/x: connect ECONNREFUSED/],
      [`${db.url}_missing`, /^member-sync: cannot reach the database at .*: database ".*_missing" does not exist$/],
      // a trust server says the role does not exist; one that checks passwords (the embedded one) that the password failed
      [noSuchRole(db.url), /^member-sync: cannot reach the database at postgres:\/\/no_such_role:\[REDACTED\]@.*(role "no_such_role" does not exist|password authentication failed for user "no_such_role")/],
      ['localhost:5432/members', /^member-sync: DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/],
    ];
    for (const [url, message] of cases) {
      const r = await cli(['runs'], { DATABASE_URL: url });
      expect(r.code, url).toBe(1);
      expect(r.stderr.trimEnd().split('\n'), url).toHaveLength(1);
      expect(r.stderr.trimEnd(), url).toMatch(message);
      expect(r.stderr).not.toMatch(/pw-secret-1|\n\s+at /);
    }
  });

  it('a typo gets the suggestion and one line pointing at --help, not the whole help', async () => {
    const typo = await cli(['improt', 'members.csv']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toBe("error: unknown command 'improt'\n(Did you mean import?)\n(see 'member-sync --help')\n");
    const sub = await cli(['members', 'exprot']);
    expect(sub.stderr).toBe("error: unknown command 'exprot'\n(Did you mean export?)\n(see 'member-sync members --help')\n");
    const missing = await cli(['import']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("error: missing required argument 'file'\n(see 'member-sync import --help')\n");
    const option = await cli(['import', 'x.csv', '--mappin', 'convio']);
    expect(option.stderr.split('\n').length).toBeLessThanOrEqual(4);
    expect(option.stderr).toMatch(/unknown option '--mappin'\n\(Did you mean --mapping\?\)\n\(see 'member-sync import --help'\)/);
  });

  it('run says which files of a drop folder wait until they stop changing', async () => {
    const jobs = path.join(dir, 'jobs');
    const inbox = path.join(dir, 'inbox', 'partner');
    mkdirSync(jobs, { recursive: true });
    mkdirSync(inbox, { recursive: true });
    writeFileSync(path.join(jobs, 'partner-drop.yaml'), 'steps:\n  - import: ./inbox/partner/\n');
    const empty = await cli(['run', 'partner-drop'], env);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('import ./inbox/partner/: no files waiting\n');
    // a file that just landed, and one still being written under a temporary name
    writeFileSync(path.join(inbox, 'fresh.csv'), 'email,first_name\nfresh@example.org,Fresh\n');
    writeFileSync(path.join(inbox, 'big.csv.part'), 'email,first_name\n');
    const r = await cli(['run', 'partner-drop'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^import \.\/inbox\/partner\/: big\.csv\.part waits: still being written \(a temporary name\); taken once renamed$/m);
    expect(r.stdout).toMatch(/^import \.\/inbox\/partner\/: fresh\.csv waits: changed \d+\.\d s ago; taken once unchanged for 60 s \(dropFolder\.stableMs\): run again then$/m);
    const json = await cli(['run', 'partner-drop', '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ job: 'partner-drop', results: [], waiting: [{ file: path.join(inbox, 'big.csv.part') }, { file: path.join(inbox, 'fresh.csv') }] });
  });

  it('the sandbox prints the same credentials and ids for the same --seed, other ones for another', async () => {
    const credentials = async (seed: number): Promise<string[]> => {
      const child = spawn(process.execPath, [BIN, 'sandbox', '--seed', String(seed)], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (/vocdoni-sandbox:[\s\S]*organizationAddress/.test(out)) resolve();
        });
        child.on('error', reject);
        child.on('exit', () => reject(new Error(`sandbox exited early: ${out}`)));
      });
      const closed = new Promise((r) => child.on('close', r));
      child.kill('SIGINT');
      await closed;
      return out.split('\n').filter((l) => /^export |communityId|organizationAddress/.test(l));
    };
    const a = await credentials(7);
    expect(a.length).toBeGreaterThanOrEqual(14);
    expect(await credentials(7)).toEqual(a);
    expect(await credentials(8)).not.toEqual(a);
  });
});
