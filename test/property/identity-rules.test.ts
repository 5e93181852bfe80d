/**
 * The identity rules (DESIGN.md), checked with fast-check against the real import and a
 * real database. Random sequences of records drawn from a few cons_ids, member_ids and
 * emails (in several cases and with spaces), names, unreadable emails and rows with no
 * key, imported with a random batch size:
 *
 * - the store never holds two members with the same cons_id or member_id, nor (with
 *   duplicate emails off) the same email — and the import never trips the unique indexes;
 * - every record is accounted for: rows read = created + updated + unchanged + conflicts
 *   + rejected, and rows read = records written;
 * - the same records in one file, or split over several files imported in the same
 *   order, give the same store (members, conflicts, rejects and every count).
 *
 * Two databases per setting, emptied between runs. MEMBER_SYNC_FAULTS=full (npm run
 * test:faults) runs many more cases.
 *
 * Batches of 1 to 6 records: a batch may move a key off one member and give it to
 * another (or a new person) — writeOutcome clears the keys given up before it writes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { emptyCounts, type RunCounts } from '../../src/types.js';
import { csvDataRows, expectBalanced } from '../helpers/accounting.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const FULL = process.env.MEMBER_SYNC_FAULTS === 'full';
const quiet = log.child({}, { level: 'fatal' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-prop-'));
let fileNo = 0;

interface Rec {
  external_id: string;
  cons_id: string;
  member_id: string;
  email: string;
  first_name: string;
  last_name: string;
}

const maybe = (...values: string[]) => fc.constantFrom('', ...values);
const recordArb: fc.Arbitrary<Rec> = fc.record({
  // the connection's own id for the person (rule 0), read only when importing for a connection
  external_id: maybe('X1', 'X2', 'X3'),
  cons_id: maybe('C1', 'C2', 'C3'),
  member_id: maybe('M1', 'M2', 'M3'),
  // the same address in other cases and with spaces, and one that cannot be read
  email: maybe('a@x.org', 'A@X.ORG', ' a@x.org ', 'b@x.org', 'B@x.org', 'c@x.org', 'not-an-email'),
  first_name: maybe('Ann', 'Bob', 'Cy'),
  last_name: maybe('Lee', 'Ray'),
});

const HEADER = 'external_id,cons_id,member_id,email,first_name,last_name';
const csvOf = (recs: Rec[]) => [HEADER, ...recs.map((r) => [r.external_id, r.cons_id, r.member_id, r.email, r.first_name, r.last_name].join(','))].join('\n') + '\n';

function write(recs: Rec[]): string {
  const f = path.join(dir, `p${++fileNo}.csv`);
  writeFileSync(f, csvOf(recs));
  return f;
}

/** Imports the files in order; returns the summed counts. */
async function importAll(db: TestDb, files: string[], batchSize: number, allowDuplicateEmails: boolean, connection?: string, seenRows = true): Promise<RunCounts> {
  const connections = { crm: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1/', options: { organizationAddress: '0x1' } } };
  const config = loadConfig({ env: {}, overrides: { import: { batchSize, seenRows }, matching: { allowDuplicateEmails }, connections } });
  const total = emptyCounts();
  for (const f of files) {
    // force: two slices of a sequence may hold the same bytes; both must be applied
    const s = await importFile(f, { db: db.knex, config, log: quiet, force: true, connection });
    await expectBalanced(db.knex, s, { inputRows: csvDataRows(f) });
    for (const k of Object.keys(total) as (keyof RunCounts)[]) total[k] += s[k];
  }
  return total;
}

async function empty(db: TestDb): Promise<void> {
  await db.knex.raw('truncate members, source_records, source_record_history, ingest_batches, member_links, member_changes, conflicts, rejects, imported_files, checkpoints, push_state, runs restart identity cascade');
}

/** The store as a user sees it, without generated ids and times. */
async function snapshot(db: TestDb) {
  const members = await db.knex('members as m')
    .leftJoin('member_links as l', 'l.member_id', 'm.id')
    .groupBy('m.id')
    .select('m.cons_id', 'm.member_id', 'm.email', 'm.first_name', 'm.last_name', db.knex.raw(`coalesce(string_agg(l.external_id, '|' order by l.external_id), '') as links`));
  const key = (m: Record<string, unknown>) => JSON.stringify([m.cons_id, m.member_id, m.email, m.first_name, m.last_name, m.links]);
  const conflicts = await db.knex('conflicts').orderBy('id').select('reason', 'record');
  const rejects = await db.knex('rejects').orderBy('id').select('reason', 'raw');
  return {
    members: members.map(key).sort(),
    conflicts: conflicts.map((c) => [c.reason, c.record.values]),
    rejects: rejects.map((r) => [r.reason, r.raw]),
  };
}

async function duplicates(db: TestDb, column: string): Promise<unknown[]> {
  return db.knex('members').whereNotNull(column).groupBy(column).havingRaw('count(*) > 1').select(column);
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  { allowDuplicateEmails: false, connection: 'crm', runs: FULL ? 300 : 25 },
  { allowDuplicateEmails: false, connection: undefined, runs: FULL ? 300 : 40 },
  { allowDuplicateEmails: true, connection: undefined, runs: FULL ? 150 : 15 },
])('identity rules (duplicate emails allowed: $allowDuplicateEmails, connection: $connection)', ({ allowDuplicateEmails, connection, runs }) => {
  let whole: TestDb;
  let split: TestDb;
  beforeAll(async () => {
    [whole, split] = await Promise.all([createTestDb({ allowDuplicateEmails }), createTestDb({ allowDuplicateEmails })]);
  });
  afterAll(async () => {
    await whole?.drop();
    await split?.drop();
  });

  it('keep keys unique, account for every record, and give one store whether the records come in one file or several', { timeout: FULL ? 900_000 : 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 1, maxLength: 24 }),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.integer({ min: 1, max: 6 }),
        async (recs, cuts, batchSize) => {
          await Promise.all([empty(whole), empty(split)]);
          const points = [...new Set(cuts.map((c) => c % (recs.length + 1)))].sort((a, b) => a - b);
          const slices = [0, ...points, recs.length].slice(1).map((end, i, ends) => recs.slice(i === 0 ? 0 : ends[i - 1], end));
          const a = await importAll(whole, [write(recs)], batchSize, allowDuplicateEmails, connection);
          const b = await importAll(split, slices.map(write), batchSize, allowDuplicateEmails, connection);
          // every record accounted for, in both
          expect(a.rows).toBe(recs.length);
          expect(b.rows).toBe(recs.length);
          // no two members share a key
          for (const db of [whole, split]) {
            expect(await duplicates(db, 'cons_id')).toEqual([]);
            expect(await duplicates(db, 'member_id')).toEqual([]);
            if (!allowDuplicateEmails) expect(await duplicates(db, 'email')).toEqual([]);
          }
          // one file or several: the same decisions and the same store
          expect(b).toEqual(a);
          expect(await snapshot(split)).toEqual(await snapshot(whole));
        },
      ),
      { numRuns: runs },
    );
  });
});

describe('rows seen before (import.seenRows)', () => {
  let cached: TestDb;
  let fresh: TestDb;
  beforeAll(async () => {
    [cached, fresh] = await Promise.all([createTestDb(), createTestDb()]);
  });
  afterAll(async () => {
    await cached?.drop();
    await fresh?.drop();
  });

  // The second file mixes rows of the first (which the cache may skip) with new ones that
  // change their members in between: skipping must never change a decision.
  it('give the same counts and store as deciding every row afresh', { timeout: FULL ? 900_000 : 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 1, maxLength: 16 }),
        fc.array(fc.oneof(fc.nat(), recordArb), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 6 }),
        async (first, picks, batchSize) => {
          await Promise.all([empty(cached), empty(fresh)]);
          const again = picks.map((p) => (typeof p === 'number' ? first[p % first.length] : p));
          const files = [write(first), write(again), write(first)];
          const a = await importAll(cached, files, batchSize, false, undefined, true);
          const b = await importAll(fresh, files, batchSize, false, undefined, false);
          expect(a).toEqual(b);
          expect(await snapshot(cached)).toEqual(await snapshot(fresh));
        },
      ),
      { numRuns: FULL ? 300 : 40 },
    );
    // the shortcut was there to use: source records hold the fingerprints of what they were sent
    expect(Number((await cached.knex('source_records').whereNot('hash', '').count({ n: '*' }).first())?.n)).toBeGreaterThan(0);
  });
});

describe('a member moving off an email while a new person takes it, in one batch', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('imports: the existing member gets the new email, the new person the old one', async () => {
    const first = write([{ external_id: '', cons_id: '', member_id: 'M2', email: 'a@x.org', first_name: 'Ann', last_name: '' }]);
    const second = write([
      { external_id: '', cons_id: '', member_id: 'M2', email: 'c@x.org', first_name: '', last_name: '' },
      { external_id: '', cons_id: '', member_id: '', email: 'a@x.org', first_name: 'Bob', last_name: '' },
    ]);
    const counts = await importAll(db, [first, second], 2000, false);
    expect(counts).toMatchObject({ rows: 3, created: 2, updated: 1 });
    expect(await db.knex('members').orderBy('email').select('member_id', 'email', 'first_name')).toEqual([
      { member_id: null, email: 'a@x.org', first_name: 'Bob' },
      { member_id: 'M2', email: 'c@x.org', first_name: 'Ann' },
    ]);
  });
});
