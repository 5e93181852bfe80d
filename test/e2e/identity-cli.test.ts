/**
 * The identity commands as a user runs them: the built bin in real processes, a real
 * database, the Vocdoni simulator on loopback in this process. `pull` takes the
 * connection lock the worker takes (issue 11, finding 5); `members show` lists source
 * records; `members split`, `rules preview`, `settings`.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVocdoniSimulator } from '../../src/connectors/vocdoni/simulator.js';
import { log } from '../../src/log.js';
import { connectionLocks } from '../../src/queue/connection-lock.js';
import { cliIn, fileIn } from '../helpers/cli.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-identity-e2e-'));

let db: TestDb;
let sim: Awaited<ReturnType<typeof startVocdoniSimulator>>;
let env: Record<string, string>;
const cli = cliIn(dir, () => env);
const file = fileIn(dir);

beforeAll(async () => {
  db = await createTestDb();
  sim = await startVocdoniSimulator({
    token: 'e2e-vocdoni-token',
    people: [...Array(5).keys()].map((i) => ({ member_id: `V-${i}`, email: `v${i}@e2e.example`, first_name: `V${i}` })),
  });
  const config = file(
    'config.yaml',
    `connections:
  vocdoni-e2e:
    kind: vocdoni
    baseUrl: ${sim.url}
    credentials: { token: "\${E2E_VOCDONI_TOKEN}" }
    rateLimit: { perSecond: 0, concurrency: 2 }
    options: { organizationAddress: "${sim.state.orgAddress}" }
`,
  );
  env = { DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: config, E2E_VOCDONI_TOKEN: 'e2e-vocdoni-token' };
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

describe('identity commands', () => {
  it('pull waits for no one: a connection another process holds is busy, exit 1, nothing pulled', async () => {
    const held = await connectionLocks(db.url, log).tryAcquire(['vocdoni-e2e']);
    expect(held.ok).toBe(true);
    try {
      const r = await cli(['pull', 'vocdoni-e2e']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/connection 'vocdoni-e2e' is busy/);
      expect(await db.knex('runs').where({ kind: 'pull' }).count({ n: '*' }).first()).toEqual({ n: 0 });
    } finally {
      if (held.ok) await held.held.release();
    }
    const ok = await cli(['pull', 'vocdoni-e2e', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).rows).toBeGreaterThan(0);
  });

  it('members show lists the source records; split moves one off; revert undoes it', async () => {
    expect((await cli(['import', file('a.csv', 'email,first_name\nold@e2e.example,Ann\n')])).code).toBe(0);
    expect((await cli(['import', file('b.csv', 'external_id,email,city\nE-1,old@e2e.example,Oslo\n'), '--connection', 'vocdoni-e2e'])).code).toBe(0);
    expect((await cli(['import', file('c.csv', 'external_id,email\nE-1,new@e2e.example\n'), '--connection', 'vocdoni-e2e'])).code).toBe(0);
    const show = await cli(['members', 'show', 'new@e2e.example']);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/source records/);
    expect(show.stdout).toMatch(/vocdoni-e2e:ext:E-1/);
    expect(show.stdout).toMatch(/file:canonical:email:old@e2e\.example/);
    expect(show.stdout).toMatch(/first_name\s+Ann\s+file:canonical email:old@e2e\.example/);
    const json = JSON.parse((await cli(['members', 'show', 'new@e2e.example', '--json'])).stdout);
    expect(json.sources.map((s: { ref: string }) => s.ref).sort()).toEqual(['file:canonical:email:old@e2e.example', 'vocdoni-e2e:ext:E-1']);
    expect(json.set_by.city).toMatchObject({ source: 'vocdoni-e2e', key: 'ext:E-1' });

    const none = await cli(['members', 'split', 'new@e2e.example', '--source', 'vocdoni-e2e:ext:E-1', '--source', 'file:canonical:email:old@e2e.example']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/would leave it with none/);
    const split = await cli(['members', 'split', 'new@e2e.example', '--source', 'vocdoni-e2e:ext:E-1', '--json']);
    expect(split.code).toBe(0);
    const s = JSON.parse(split.stdout);
    expect(s.new_member).toMatchObject({ email: 'new@e2e.example', city: 'Oslo' });
    expect((await cli(['members', 'show', 'old@e2e.example', '--json'])).code).toBe(0);
    const back = await cli(['revert', String(s.run_id)]);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/1 members removed/);
    const after = JSON.parse((await cli(['members', 'show', 'new@e2e.example', '--json'])).stdout);
    expect(after.member).toMatchObject({ email: 'new@e2e.example', first_name: 'Ann', city: 'Oslo' });
  });

  it('rules preview reports and writes nothing; settings refuse a disagreeing config and change with set', async () => {
    const members = Number((await db.knex('members').count({ n: '*' }).first())?.n);
    const other = file('trust.yaml', 'import:\n  fileTrust: 100\n');
    const p = await cli(['rules', 'preview', '--config', other, '--json']);
    expect(p.code).toBe(0);
    const preview = JSON.parse(p.stdout);
    expect(preview).toMatchObject({ members_now: members, merge: { count: 0 }, split: { count: 0 } });
    expect((await cli(['rules', 'preview'])).stdout).toMatch(/would merge/);

    const dup = file('dup.yaml', 'matching:\n  allowDuplicateEmails: true\n');
    const refused = await cli(['members', 'export'], { MEMBER_SYNC_CONFIG: dup });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/allowDuplicateEmails is true in this config, but the database was set up with false/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    const set = await cli(['settings', 'set', 'matching.allowDuplicateEmails', 'true']);
    expect(set.code).toBe(0);
    expect((await cli(['members', 'export'], { MEMBER_SYNC_CONFIG: dup })).code).toBe(0);
    expect((await cli(['settings', 'show', '--json'], { MEMBER_SYNC_CONFIG: dup })).stdout).toMatch(/"matching.allowDuplicateEmails":true/);
    expect((await cli(['settings', 'set', 'matching.allowDuplicateEmails', 'false'])).code).toBe(0);
  });
});
