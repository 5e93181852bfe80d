/**
 * import.seenRows (a record whose source record holds its fingerprint is not decided
 * again) at batch sizes of several hundred: files imported again — whole, edited,
 * reordered, with new and repeated rows — give the counts and store of deciding every row
 * afresh.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const quiet = log.child({}, { level: 'fatal' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-seen-'));
let cached: TestDb;
let fresh: TestDb;
beforeAll(async () => {
  [cached, fresh] = await Promise.all([createTestDb(), createTestDb()]);
});
afterAll(async () => {
  await Promise.all([cached?.drop(), fresh?.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

const HEADER = 'cons_id,member_id,email,first_name,city';
const row = (i: number, city = 'Lyon') => `C${i},M${i},p${i}@example.org,P${i},${city}`;
let n = 0;
function write(rows: string[]): string {
  const f = path.join(dir, `f${++n}.csv`);
  writeFileSync(f, [HEADER, ...rows].join('\n') + '\n');
  return f;
}

it('gives the same counts and store as deciding every row afresh', { timeout: 120_000 }, async () => {
  const ids = [...Array(3000).keys()];
  const first = ids.map((i) => row(i));
  // edited: every 10th person moved, every 20th row gone, new people in the middle, a block
  // moved to the end, a row repeated, and an e-mail taken by another person (a conflict)
  const edited = ids.filter((i) => i % 20 !== 7).map((i) => (i % 10 === 3 ? row(i, 'Nice') : row(i)));
  edited.splice(1500, 0, ...[...Array(200).keys()].map((k) => row(5000 + k)));
  edited.push(...edited.splice(400, 300), row(42), `C9999,M9999,p11@example.org,X,Paris`);
  const files = [write(first), write(edited), write(first), write([...first].reverse())];
  for (const [db, seenRows] of [[cached, true], [fresh, false]] as const) {
    const config = loadConfig({ env: {}, overrides: { import: { batchSize: 500, seenRows } } });
    const counts = [];
    for (const f of files) {
      const s = await importFile(f, { db: db.knex, config, log: quiet, force: true });
      counts.push([s.rows, s.created, s.updated, s.unchanged, s.conflicts, s.rejected]);
    }
    (db as TestDb & { counts?: unknown }).counts = counts;
  }
  expect((cached as TestDb & { counts?: unknown }).counts).toEqual((fresh as TestDb & { counts?: unknown }).counts);
  const snapshot = (d: TestDb) => d.knex('members').orderBy('cons_id').select('cons_id', 'member_id', 'email', 'first_name', 'city');
  expect(await snapshot(cached)).toEqual(await snapshot(fresh));
  // the last file (the first one reversed) changes nobody: every row unchanged
  const last = (cached as TestDb & { counts?: number[][] }).counts![3];
  expect(last).toEqual([3000, 0, 0, 3000, 0, 0]);
  // one source record per person of the file source, each holding what it was last sent
  expect(Number((await cached.knex('source_records').where({ source: 'file:canonical' }).count({ n: '*' }).first())?.n)).toBeGreaterThanOrEqual(3000);
});
