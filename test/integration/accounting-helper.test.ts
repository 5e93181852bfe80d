/**
 * expectBalanced holds a run's counters against facts it did not compute: a summary whose
 * counters still add up but misstate what happened (a created member counted as updated, a
 * row never read, a reject or conflict not stored) is caught.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile, type ImportSummary } from '../../src/pipeline/import-file.js';
import { csvDataRows, expectBalanced } from '../helpers/accounting.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const quiet = log.child({}, { level: 'fatal' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-accounting-'));
let db: TestDb;
let first: ImportSummary;
let second: ImportSummary;
let file2: string;

beforeAll(async () => {
  db = await createTestDb();
  const config = loadConfig({ env: {}, overrides: { import: { batchSize: 2 } } });
  const f1 = path.join(dir, 'one.csv');
  writeFileSync(f1, 'member_id,email,first_name\nA-1,a1@example.org,Ann\nA-2,a2@example.org,Bob\nA-3,a3@example.org,Cy\n');
  first = await importFile(f1, { db: db.knex, config, log: quiet });
  // an update, an unchanged row, a new member, a reject and a conflict (A-1's email on A-9)
  file2 = path.join(dir, 'two.csv');
  writeFileSync(file2, 'member_id,email,first_name\nA-1,a1@example.org,Anna\nA-2,a2@example.org,Bob\nA-4,a4@example.org,Dee\nA-5,not-an-email,Eve\nA-9,a1@example.org,Clash\n');
  second = await importFile(file2, { db: db.knex, config, log: quiet });
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('expectBalanced', () => {
  it('passes for what the import reported', async () => {
    expect(second).toMatchObject({ rows: 5, created: 1, updated: 1, unchanged: 1, rejected: 1, conflicts: 1 });
    await expectBalanced(db.knex, first, { inputRows: 3 });
    await expectBalanced(db.knex, second, { inputRows: csvDataRows(file2) });
  });

  it.each([
    ['a created member counted as updated', { created: 0, updated: 2 }],
    ['an updated member counted as unchanged', { updated: 0, unchanged: 2 }],
    ['a reject counted as unchanged', { rejected: 0, unchanged: 2 }],
    ['a conflict counted as created', { conflicts: 0, created: 2 }],
    ['a row never read', { rows: 4, unchanged: 0 }],
  ])('fails for %s, though the counters add up', async (_what, change) => {
    const wrong = { ...second, ...change };
    expect(wrong.rows).toBe(wrong.created + wrong.updated + wrong.unchanged + wrong.conflicts + wrong.rejected);
    await expect(expectBalanced(db.knex, wrong, { inputRows: csvDataRows(file2) })).rejects.toThrow();
  });
});
