/**
 * member-sync push to IKANOW: real PostgreSQL, the IKANOW simulator on loopback (API key
 * auth), requests counted at the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIkanowSimulator } from '../../src/connectors/ikanow/index.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { configWith, importCsv, peopleCsv, pushUntilSettled, pushWith } from './push-setup.js';

type Sim = Awaited<ReturnType<typeof startIkanowSimulator>>;
let db: TestDb;
let sim: Sim;
let push: ReturnType<typeof pushWith>;
let config: ReturnType<typeof configWith>;
const NAME = 'ikanow-test';

beforeAll(async () => {
  db = await createTestDb();
  sim = await startIkanowSimulator({
    people: [
      { email: 'ana@example.org', first_name: 'Ana', last_name: 'Old' },
      { email: 'taken@example.org', first_name: 'Someone', last_name: 'Else' },
    ],
  });
  config = configWith({
    [NAME]: { kind: 'ikanow', baseUrl: sim.url, credentials: { apiKey: 'ikanow-sim-api-key' }, rateLimit: { perSecond: 0, concurrency: 3 }, timeoutMs: 5000 },
  });
  push = pushWith(db, config);
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const people = (email: string) => [...sim.state.people.values()].filter((p) => p.email === email);

describe('push to ikanow', () => {
  it('registers new people, updates the one IKANOW has (found by e-mail), and links the _ids', async () => {
    await importCsv(db, config, 'member_id,email,first_name,last_name,phone\nK-1,ana@example.org,Ana,Lee,\nK-2,bob@example.org,Bob,Ray,+14155552671\n');
    const s = await push(NAME);
    expect(s).toMatchObject({ selected: 2, created: 1, updated: 1, failed: 0 });
    expect(s.requests).toBe(sim.requests.total);
    expect(people('ana@example.org')).toEqual([expect.objectContaining({ lastName: 'Lee' })]);
    expect(people('bob@example.org')).toEqual([expect.objectContaining({ firstName: 'Bob', phone: '+14155552671' })]);
    const links = await db.knex('member_links').where({ connection: NAME }).orderBy('external_id');
    expect(links.map((l) => l.external_id).sort()).toEqual([people('ana@example.org')[0]._id, people('bob@example.org')[0]._id].sort());
    expect(sim.state.plainPasswords).toBe(0);
  });

  it('an unchanged list sends nothing; a changed one updates through the _id', async () => {
    const before = sim.requests.total;
    expect(await push(NAME)).toMatchObject({ selected: 0, unchanged: 2, requests: 0 });
    expect(sim.requests.total).toBe(before);
    await importCsv(db, config, 'member_id,last_name\nK-2,Rayner\n');
    const s = await push(NAME);
    expect(s).toMatchObject({ selected: 1, updated: 1 });
    expect(people('bob@example.org')[0].lastName).toBe('Rayner');
    const id = people('bob@example.org')[0]._id;
    expect(sim.requests.byRoute[`GET /social/person/get/${id}`]).toBe(1);
  });

  it('records "e-mail not unique" as a permanent failure and does not send it again unchanged', async () => {
    await importCsv(db, config, 'member_id,email\nK-2,taken@example.org\n');
    const s = await push(NAME);
    expect(s).toMatchObject({ selected: 1, failed: 1 });
    const state = await db.knex('push_state as p').join('members as m', 'm.id', 'p.member_id').where({ 'm.member_id': 'K-2', 'p.connection': NAME }).first('p.*');
    expect(state).toMatchObject({ status: 'failed' });
    expect(state.last_error).toMatch(/not unique/);
    const before = sim.requests.total;
    expect(await push(NAME)).toMatchObject({ selected: 0, held_failed: 1, requests: 0 });
    expect(sim.requests.total).toBe(before);
  });

  it('with 20% of requests answered 500, everyone arrives exactly once', async () => {
    await importCsv(db, config, peopleCsv(25, 1));
    sim.setFaults({ errorRate: 0.2, seed: 3 });
    const runs = await pushUntilSettled(() => push(NAME));
    sim.setFaults({});
    expect(runs.at(-1)).toMatchObject({ failed: 0 });
    for (let i = 1; i <= 25; i++) expect(people(`p${i}@example.org`)).toEqual([expect.objectContaining({ firstName: `First${i}` })]);
    expect(sim.state.plainPasswords).toBe(0);
  });

  it('a graceful stop records every member in flight; the next push sends only the rest', async () => {
    await importCsv(db, config, peopleCsv(12, 200));
    const stop = new AbortController();
    const s = await push(NAME, { stop: stop.signal, batchSize: 4, onSent: (n) => n >= 5 && stop.abort() });
    expect(s.stopped).toMatch(/interrupted/);
    const registered = [...sim.state.people.values()].filter((p) => /^p2\d\d@/.test(p.email)).length;
    const recorded = await db.knex('push_state as p').join('members as m', 'm.id', 'p.member_id').where('p.connection', NAME).where('m.member_id', 'like', 'P-2__').where('p.status', 'ok').count({ n: '*' }).first();
    // nothing reached IKANOW without being recorded
    expect(Number(recorded!.n)).toBe(registered);
    expect(s.created).toBe(registered);
    const rest = await push(NAME);
    expect(rest).toMatchObject({ selected: 12 - registered, created: 12 - registered, updated: 0, failed: 0 });
  });

  it('a push cut short and run again registers nobody twice', async () => {
    await importCsv(db, config, peopleCsv(20, 100));
    const count = sim.state.people.size;
    sim.setFaults({ latencyMs: 10 });
    const ac = new AbortController();
    const cut = await push(NAME, { signal: ac.signal, batchSize: 5, onSent: (n) => n >= 7 && ac.abort(new Error('killed')) });
    expect(cut.stopped).toMatch(/interrupted/);
    // a second register of someone IKANOW already has would fail ("User already exists"):
    // failed 0 means everyone cut short was found by e-mail and updated instead
    const done = await push(NAME);
    sim.setFaults({});
    expect(done).toMatchObject({ failed: 0 });
    expect(sim.state.people.size).toBe(count + 20);
    for (let i = 100; i < 120; i++) expect(people(`p${i}@example.org`)).toHaveLength(1);
  });
});
