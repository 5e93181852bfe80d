/**
 * member-sync migrate: pull (or import) then push to each target, as one parent run with
 * child runs. Real PostgreSQL; Convio and IKANOW simulators on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConvioSimulator } from '../../src/connectors/convio/index.js';
import { startIkanowSimulator } from '../../src/connectors/ikanow/index.js';
import { log } from '../../src/log.js';
import { migrate } from '../../src/pipeline/migrate.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { configWith, csvFile, peopleCsv } from './push-setup.js';

let db: TestDb;
let convio: Awaited<ReturnType<typeof startConvioSimulator>>;
let ikanow: Awaited<ReturnType<typeof startIkanowSimulator>>;
let config: ReturnType<typeof configWith>;

const seeded = [1, 2, 3, 4].map((i) => ({ member_id: `C-${i}`, email: `c${i}@example.org`, first_name: `Con${i}`, last_name: 'Vio', groups: ['1001'] }));

beforeAll(async () => {
  db = await createTestDb();
  convio = await startConvioSimulator({ groupIds: [1001], people: seeded });
  ikanow = await startIkanowSimulator();
  config = configWith({
    'convio-m': {
      kind: 'convio',
      baseUrl: convio.url,
      credentials: { apiKey: 'convio-sim-api-key', loginName: 'sim-admin', loginPassword: 'sim-admin-password' },
      rateLimit: { perSecond: 0, concurrency: 2 },
      options: { groupIds: [1001] },
    },
    'ikanow-m': { kind: 'ikanow', baseUrl: ikanow.url, credentials: { apiKey: 'ikanow-sim-api-key' }, rateLimit: { perSecond: 0, concurrency: 2 } },
  });
});
afterAll(async () => {
  await convio?.close();
  await ikanow?.close();
  await db?.drop();
});

const run = (o: { from: string; to: string[]; dryRun?: boolean }, plans: string[] = []) =>
  migrate({ db: db.knex, config, log, ...o, onPlan: (target, e) => plans.push(`${target} ${e.action} ${e.member}`) });

describe('migrate', () => {
  it('--dry-run reads the source, plans the pushes, and writes and sends nothing', async () => {
    const plans: string[] = [];
    const s = await run({ from: 'convio-m', to: ['ikanow-m'], dryRun: true }, plans);
    expect(s).toMatchObject({ run_id: null, dry_run: true, source: { kind: 'pull', rows: 4, created: 4, run_id: null } });
    expect(s.pushes).toEqual([expect.objectContaining({ connection: 'ikanow-m', selected: 4, created: 4, requests: 0 })]);
    expect(plans.sort()).toEqual(['C-1', 'C-2', 'C-3', 'C-4'].map((k) => `ikanow-m create ${k}`));
    expect(ikanow.requests.total).toBe(0);
    expect(await db.knex('members').count({ n: '*' }).first()).toEqual({ n: 0 });
    expect(await db.knex('runs').count({ n: '*' }).first()).toEqual({ n: 0 });
  });

  it('pulls everything from a connection and pushes it to the target, as one run with child runs', async () => {
    const s = await run({ from: 'convio-m', to: ['ikanow-m'] });
    expect(s.source).toMatchObject({ kind: 'pull', rows: 4, created: 4 });
    expect(s.pushes).toEqual([expect.objectContaining({ connection: 'ikanow-m', created: 4, failed: 0 })]);
    for (const p of seeded) expect([...ikanow.state.people.values()].some((x) => x.email === p.email && x.firstName === p.first_name)).toBe(true);
    const parent = await db.knex('runs').where({ id: s.run_id }).first();
    expect(parent).toMatchObject({ kind: 'migrate', source: 'convio-m', status: 'succeeded', rows: 4, created: 4 });
    const children = await db.knex('runs').where({ parent_run_id: s.run_id }).orderBy('id');
    expect(children.map((c) => [c.kind, c.source, c.status])).toEqual([
      ['pull', 'convio-m', 'succeeded'],
      ['push', 'ikanow-m', 'succeeded'],
    ]);
  });

  it('imports a file and pushes to several targets; a second run sends nothing', async () => {
    const file = csvFile(peopleCsv(3, 50));
    const s = await run({ from: file, to: ['convio-m', 'ikanow-m'] });
    expect(s.source).toMatchObject({ kind: 'import', rows: 3, created: 3 });
    // convio: the 3 new people; the 4 pulled from it are what it holds already, not sent back
    expect(s.pushes.map((p) => [p.connection, p.created, p.updated, p.failed])).toEqual([
      ['convio-m', 3, 0, 0],
      ['ikanow-m', 3, 0, 0],
    ]);
    expect(convio.state.constituents.size).toBe(7);
    const children = await db.knex('runs').where({ parent_run_id: s.run_id }).orderBy('id');
    expect(children.map((c) => c.kind)).toEqual(['import', 'push', 'push']);
    const before = { convio: convio.requests.total, reads: convio.requests.byRoute['POST getGroupMembers'], ikanow: ikanow.requests.total };
    const again = await run({ from: 'convio-m', to: ['convio-m', 'ikanow-m'] });
    expect(again.pushes.map((p) => [p.selected, p.requests])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    // only the pull's read reached a simulator
    expect(convio.requests.total - before.convio).toBe(convio.requests.byRoute['POST getGroupMembers'] - before.reads);
    expect(ikanow.requests.total).toBe(before.ikanow);
  });

  it('refuses unknown targets and sources', async () => {
    await expect(run({ from: 'convio-m', to: ['nope'] })).rejects.toThrow(/unknown connection 'nope'/);
    await expect(run({ from: 'missing.csv', to: ['ikanow-m'] })).rejects.toThrow(/neither a configured connection nor a file/);
  });
});
