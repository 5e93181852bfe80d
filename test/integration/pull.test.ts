/** Pull from each sandbox source into real PostgreSQL, over real HTTP on loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { pullConnection } from '../../src/pipeline/pull.js';
import { startSandbox, type Sandbox } from '../../src/server/sandbox.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

let sb: Sandbox;
let config: ReturnType<typeof loadConfig>;
const dbs: TestDb[] = [];
async function freshDb(): Promise<TestDb> {
  const db = await createTestDb();
  dbs.push(db);
  return db;
}

beforeAll(async () => {
  sb = await startSandbox({ people: 120, seed: 5 });
  const connections = structuredClone(sb.connections) as Record<string, Record<string, Record<string, unknown>>>;
  // small pages so that a pull has several checkpoints
  connections['vocdoni-sandbox'].options.pageSize = 10;
  connections['community-sandbox'].options.pageSize = 10;
  // batches of 10 records: the sandbox's pages are committed one by one
  config = loadConfig({ env: { ...process.env, ...sb.env }, overrides: { connections, import: { batchSize: 10 } } });
});
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  await sb?.close();
});

/** The store's content, without generated ids and times. */
async function snapshot(db: TestDb) {
  const members = await db.knex('members').select('cons_id', 'member_id', 'email', 'first_name', 'last_name', 'phone', 'birth_date').orderByRaw('coalesce(member_id, email), email');
  const links = await db.knex('member_links as l').join('members as m', 'm.id', 'l.member_id').select('l.connection', 'l.external_id', 'm.email', 'm.member_id').orderBy(['l.connection', 'l.external_id']);
  return { members, links };
}

describe('pull', () => {
  it('pulls every source; people in several systems end up as one member each', async () => {
    const db = await freshDb();
    const results = [];
    for (const name of ['convio-sandbox', 'ikanow-sandbox', 'community-sandbox', 'vocdoni-sandbox']) {
      const s = await pullConnection(name, { db: db.knex, config, log });
      expect(s.rows, name).toBe(s.created + s.updated + s.unchanged + s.conflicts + s.rejected);
      expect(s.rows, name).toBe(sb.counts[name.replace('-sandbox', '')]);
      results.push(s);
    }
    // convio creates its people; the community's overlap (another email case) is matched by email
    expect(results[0].created).toBe(sb.counts.convio);
    expect(results[2].updated).toBeGreaterThan(0);
    // One member per generated person, except where two systems share no key: a person
    // only in the community (known by email) and in Vocdoni without an email (known by
    // memberNumber) cannot be told to be the same, and must not be guessed.
    let unmatchable = 0;
    for (let i = 0; i < 120; i++) if (i % 10 === 6 && i % 3 === 0) unmatchable++;
    const total = Number((await db.knex('members').count('* as n'))[0].n);
    expect(total).toBe(120 + unmatchable);
    const dupEmails = await db.knex('members').select('email').whereNotNull('email').groupBy('email').havingRaw('count(*) > 1');
    expect(dupEmails).toEqual([]);
    const links = Number((await db.knex('member_links').count('* as n'))[0].n);
    expect(links).toBe(sb.counts.convio + sb.counts.ikanow + sb.counts.community + sb.counts.vocdoni);

    // a second pull changes nothing
    for (const name of ['convio-sandbox', 'ikanow-sandbox', 'community-sandbox', 'vocdoni-sandbox']) {
      const again = await pullConnection(name, { db: db.knex, config, log, full: true });
      expect(again, name).toMatchObject({ created: 0, updated: 0, conflicts: 0, rejected: 0 });
    }
  });

  it('a pull killed midway resumes from its checkpoint and ends in the same store as one clean pull', async () => {
    const clean = await freshDb();
    await pullConnection('vocdoni-sandbox', { db: clean.knex, config, log });

    const db = await freshDb();
    const abort = new AbortController();
    let pages = 0;
    await expect(
      pullConnection('vocdoni-sandbox', {
        db: db.knex,
        config,
        log,
        signal: abort.signal,
        onPage: () => {
          if (++pages === 3) abort.abort(new Error('killed'));
        },
      }),
    ).rejects.toThrow();
    const partial = Number((await db.knex('members').count('* as n'))[0].n);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(sb.counts.vocdoni);
    const failed = await db.knex('runs').where({ status: 'failed' });
    expect(failed).toHaveLength(1);
    const resumed = await pullConnection('vocdoni-sandbox', { db: db.knex, config, log });
    expect(resumed.rows).toBeLessThan(sb.counts.vocdoni);
    expect(await snapshot(db)).toEqual(await snapshot(clean));
  });

  it('--dry-run decides and writes nothing; an unknown connection and a push-only kind are errors', async () => {
    const db = await freshDb();
    const s = await pullConnection('convio-sandbox', { db: db.knex, config, log, dryRun: true });
    expect(s).toMatchObject({ run_id: null, created: sb.counts.convio });
    expect(Number((await db.knex('members').count('* as n'))[0].n)).toBe(0);
    await expect(pullConnection('nope', { db: db.knex, config, log })).rejects.toThrow(/unknown connection 'nope'/);
    await expect(pullConnection('wevote-sandbox', { db: db.knex, config, log })).rejects.toThrow(/no list API/);
  });

  it('a wrong credential fails the pull with an auth error, and the run records it', async () => {
    const db = await freshDb();
    const bad = loadConfig({ env: { ...process.env, ...sb.env, SANDBOX_VOCDONI_TOKEN: 'vsk_wrong' }, overrides: { connections: sb.connections } });
    await expect(pullConnection('vocdoni-sandbox', { db: db.knex, config: bad, log })).rejects.toMatchObject({ kind: 'auth' });
    const [run] = await db.knex('runs');
    expect(run.status).toBe('failed');
    expect(run.error).not.toMatch(/vsk_wrong/);
  });
});
