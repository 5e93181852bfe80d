/**
 * member-sync push to Convio: real PostgreSQL, the Convio simulator on loopback, requests
 * counted at the simulator. No mocks, no timing assertions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConvioSimulator } from '../../src/connectors/convio/index.js';
import type { PlanEntry } from '../../src/pipeline/push.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { configWith, importCsv, peopleCsv, pushUntilSettled, pushWith } from './push-setup.js';

type Sim = Awaited<ReturnType<typeof startConvioSimulator>>;
let db: TestDb;
let sim: Sim;
let push: ReturnType<typeof pushWith>;
let config: ReturnType<typeof configWith>;
const NAME = 'convio-test';

beforeAll(async () => {
  db = await createTestDb();
  sim = await startConvioSimulator({
    groupIds: [1001],
    people: [
      { member_id: 'M-1', email: 'ana@example.org', first_name: 'Ana', last_name: 'Old' },
      // two records with one member_id: Convio refuses to update either (code 15)
      { member_id: 'M-9', email: 'nine-a@example.org', first_name: 'Nine' },
      { member_id: 'M-9', email: 'nine-b@example.org', first_name: 'Nine' },
    ],
  });
  config = configWith({
    [NAME]: {
      kind: 'convio',
      baseUrl: sim.url,
      credentials: { apiKey: 'convio-sim-api-key', loginName: 'sim-admin', loginPassword: 'sim-admin-password' },
      rateLimit: { perSecond: 0, concurrency: 4 },
      timeoutMs: 5000,
      options: { groupIds: [1001] },
    },
  });
  push = pushWith(db, config);
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const cons = (memberId: string) => [...sim.state.constituents.values()].filter((c) => c.member_id === memberId);
const byEmail = (email: string) => [...sim.state.constituents.values()].filter((c) => c.email === email);

describe('push to convio', () => {
  it('creates the people Convio lacks, updates the one it has, and links the cons_ids it learns', async () => {
    await importCsv(db, config, 'member_id,email,first_name,last_name,city\nM-1,ana@example.org,Ana,Lee,Oslo\nM-2,bob@example.org,Bob,Ray,Lyon\n,dee@example.org,Dee,Fox,Rome\n');
    const s = await push(NAME);
    expect(s).toMatchObject({ connection: NAME, selected: 3, created: 2, updated: 1, unchanged: 0, failed: 0 });
    expect(s.requests).toBe(sim.requests.total);
    expect(cons('M-1')).toHaveLength(1);
    expect(cons('M-1')[0]).toMatchObject({ last_name: 'Lee', city: 'Oslo' });
    expect(cons('M-2')).toHaveLength(1);
    expect(byEmail('dee@example.org')).toHaveLength(1);
    const links = await db.knex('member_links').where({ connection: NAME, rule: 'push' });
    expect(links.map((l) => l.external_id).sort()).toEqual([cons('M-1')[0].cons_id, cons('M-2')[0].cons_id, byEmail('dee@example.org')[0].cons_id].sort());
    const state = await db.knex('push_state').where({ connection: NAME });
    expect(state.every((r) => r.status === 'ok' && r.remote_id && r.payload)).toBe(true);
    const run = await db.knex('runs').where({ id: s.run_id }).first();
    expect(run).toMatchObject({ kind: 'push', source: NAME, status: 'succeeded', created: 2, updated: 1 });
    expect(run.details).toMatchObject({ selected: 3, failed: 0 });
  });

  it('sends nothing when nothing changed', async () => {
    const before = sim.requests.total;
    const s = await push(NAME);
    expect(s).toMatchObject({ selected: 0, created: 0, updated: 0, unchanged: 3, failed: 0, requests: 0 });
    expect(sim.requests.total).toBe(before);
  });

  it('dry run: sends and writes nothing, plans each field old -> new; then the push sends just that', async () => {
    await importCsv(db, config, 'member_id,email,city\nM-2,bob@example.org,Paris\n');
    const before = sim.requests.total;
    const runsBefore = await db.knex('runs').count({ n: '*' }).first();
    const plan: PlanEntry[] = [];
    const dry = await push(NAME, { dryRun: true, onPlan: (e) => plan.push(e) });
    expect(dry).toMatchObject({ run_id: null, dry_run: true, selected: 1, updated: 1, created: 0, requests: 0 });
    expect(sim.requests.total).toBe(before);
    expect(await db.knex('runs').count({ n: '*' }).first()).toEqual(runsBefore);
    expect(plan).toEqual([
      expect.objectContaining({ member: 'M-2', action: 'update', remote_id: cons('M-2')[0].cons_id, changes: [{ field: 'primary_address.city', old: 'Lyon', new: 'Paris' }] }),
    ]);
    const s = await push(NAME);
    expect(s).toMatchObject({ selected: 1, updated: 1, created: 0, requests: 1 });
    expect(sim.requests.byRoute['POST update']).toBeGreaterThan(0);
    expect(cons('M-2')[0].city).toBe('Paris');
  });

  it('records a permanent error with the remote code and message, and does not retry it until the member changes', async () => {
    await importCsv(db, config, 'member_id,email,first_name\nM-9,nine@example.org,Nina\n');
    const before = sim.requests.total;
    const s = await push(NAME);
    expect(s).toMatchObject({ selected: 1, failed: 1, requests: 1 });
    expect(sim.requests.total - before).toBe(1);
    const [member] = await db.knex('members').where({ member_id: 'M-9' });
    const state = await db.knex('push_state').where({ connection: NAME, member_id: member.id }).first();
    expect(state).toMatchObject({ status: 'failed', error_code: '15', attempts: 1 });
    expect(state.last_error).toMatch(/code 15.*matched multiple records/);
    const errors = await db.knex('push_errors').where({ run_id: s.run_id });
    expect(errors).toEqual([expect.objectContaining({ member_id: member.id, status: 'failed', kind: 'duplicate', remote_code: '15', http_status: 403 })]);

    const again = await push(NAME);
    expect(again).toMatchObject({ selected: 0, requests: 0, held_failed: 1 });
    const retried = await push(NAME, { retryFailed: true });
    expect(retried).toMatchObject({ selected: 1, failed: 1, requests: 1 });
    expect((await db.knex('push_state').where({ member_id: member.id }).first()).attempts).toBe(2);
    await importCsv(db, config, 'member_id,city\nM-9,Nantes\n');
    expect(await push(NAME)).toMatchObject({ selected: 1, failed: 1, requests: 1 });
  });

  it('honours 429 + Retry-After: everything arrives; a wait longer than we hold stops the push for later', async () => {
    await importCsv(db, config, peopleCsv(6, 100));
    sim.setFaults({ rateLimitRate: 0.3, retryAfterSeconds: 1, seed: 11 });
    const before = { ...sim.requests.byRoute };
    const s = await push(NAME);
    sim.setFaults({});
    expect(s).toMatchObject({ selected: 6, created: 6, failed: 0 });
    const sent = (sim.requests.byRoute['POST update'] ?? 0) - (before['POST update'] ?? 0) + (sim.requests.byRoute['POST createOrUpdate'] ?? 0) - (before['POST createOrUpdate'] ?? 0);
    expect(sent).toBe(s.requests);
    expect(s.requests).toBeGreaterThan(12); // 2 calls each, plus the refused ones sent again
    for (let i = 100; i < 106; i++) expect(cons(`P-${i}`)).toHaveLength(1);

    await importCsv(db, config, 'member_id,city\nP-100,Turin\nP-101,Turin\n');
    sim.setFaults({ rateLimitRate: 1, retryAfterSeconds: 120, seed: 1 });
    const held = await push(NAME);
    sim.setFaults({});
    expect(held.stopped).toMatch(/wait 120 s/);
    expect(held.failed).toBeGreaterThan(0);
    const pending = await db.knex('push_state').where({ connection: NAME, status: 'pending' });
    expect(pending.length).toBe(held.failed);
    expect((await db.knex('runs').where({ id: held.run_id }).first()).status).toBe('failed');
    const next = await push(NAME);
    expect(next).toMatchObject({ selected: 2, updated: 2, failed: 0 });
    expect(cons('P-100')[0].city).toBe('Turin');
    expect(cons('P-101')[0].city).toBe('Turin');
  });

  it('with 20% of requests answered 500, every change arrives exactly once', async () => {
    await importCsv(db, config, peopleCsv(40, 200));
    const total = sim.state.constituents.size;
    sim.setFaults({ errorRate: 0.2, seed: 7 });
    const runs = await pushUntilSettled(() => push(NAME));
    sim.setFaults({});
    expect(runs.at(-1)).toMatchObject({ failed: 0 });
    expect(runs.reduce((n, r) => n + r.created + r.updated, 0)).toBe(40);
    expect(sim.state.constituents.size).toBe(total + 40);
    for (let i = 200; i < 240; i++) {
      expect(cons(`P-${i}`)).toHaveLength(1);
      expect(cons(`P-${i}`)[0]).toMatchObject({ first_name: `First${i}`, city: 'Lyon', email: `p${i}@example.org` });
    }
    expect(await push(NAME)).toMatchObject({ selected: 0, requests: 0 });
  });

  it('a push cut short mid-way and run again creates no duplicate at Convio', async () => {
    await importCsv(db, config, peopleCsv(30, 300) + ',q1@example.org,Q,One,Lyon\n,q2@example.org,Q,Two,Lyon\n');
    const total = sim.state.constituents.size;
    sim.setFaults({ latencyMs: 15 });
    const ac = new AbortController();
    const cut = await push(NAME, { signal: ac.signal, batchSize: 8, onSent: (n) => n >= 10 && ac.abort(new Error('killed')) });
    expect(cut.stopped).toMatch(/interrupted/);
    // the members in flight at the cut were usually created at Convio with the answer lost
    // (2 of them in our runs): the next push finds them by member_id / e-mail
    expect((await db.knex('runs').where({ id: cut.run_id }).first()).status).toBe('failed');
    const done = await push(NAME);
    sim.setFaults({});
    expect(done.failed).toBe(0);
    expect(sim.state.constituents.size).toBe(total + 32);
    for (let i = 300; i < 330; i++) expect(cons(`P-${i}`)).toHaveLength(1);
    expect(byEmail('q1@example.org')).toHaveLength(1);
    expect(byEmail('q2@example.org')).toHaveLength(1);
    expect(await push(NAME)).toMatchObject({ selected: 0, requests: 0 });
  });

  it('a member Convio cannot take (no e-mail, no cons_id, no link) is skipped up front with the reason, and not tried again', async () => {
    await importCsv(db, config, 'member_id,first_name,last_name\nM-NOMAIL,Nomail,Person\n');
    const plan: PlanEntry[] = [];
    const dry = await push(NAME, { dryRun: true, onPlan: (e) => plan.push(e) });
    expect(dry).toMatchObject({ selected: 1, skipped: 1, requests: 0 });
    expect(plan).toEqual([expect.objectContaining({ member: 'M-NOMAIL', action: 'skip', reason: expect.stringMatching(/no e-mail/) })]);
    const before = sim.requests.total;
    const s = await push(NAME);
    expect(s).toMatchObject({ selected: 1, skipped: 1, failed: 0, requests: 0 });
    expect(s.skip_reasons).toEqual({ [plan[0].reason!]: 1 });
    expect(sim.requests.total).toBe(before);
    const [member] = await db.knex('members').where({ member_id: 'M-NOMAIL' });
    expect(await db.knex('push_state').where({ connection: NAME, member_id: member.id }).first()).toMatchObject({ status: 'skipped', last_error: plan[0].reason });
    expect(await db.knex('push_errors').where({ member_id: member.id })).toEqual([]);
    // the next push does not try it again, and still says why it is not sent
    const again = await push(NAME);
    expect(again).toMatchObject({ selected: 0, unchanged: again.unchanged, held_skipped: 1, requests: 0 });
    expect(again.skip_reasons).toEqual({ [plan[0].reason!]: 1 });
    expect(sim.requests.total).toBe(before);
    // once it has an e-mail, Convio adds it
    await importCsv(db, config, 'member_id,email\nM-NOMAIL,nomail@example.org\n');
    expect(await push(NAME)).toMatchObject({ selected: 1, created: 1, failed: 0 });
    expect(cons('M-NOMAIL')).toHaveLength(1);
  });

  it('--limit sends at most N members', async () => {
    await importCsv(db, config, peopleCsv(5, 400));
    const s = await push(NAME, { limit: 2 });
    expect(s).toMatchObject({ selected: 2, created: 2 });
    expect(await push(NAME)).toMatchObject({ selected: 3, created: 3 });
  });
});
