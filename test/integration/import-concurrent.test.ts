/**
 * Two imports at once into one store. Each process decides its next batch while the one
 * before is written; a batch of the other process in between makes that decision stale,
 * and it must be made again under the lock, or a person would be created twice.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { csvDataRows, expectBalanced } from '../helpers/accounting.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-concurrent-'));
let together: TestDb;
let serial: TestDb;
beforeAll(async () => {
  [together, serial] = await Promise.all([createTestDb(), createTestDb()]);
});
afterAll(async () => {
  await Promise.all([together?.drop(), serial?.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

const PEOPLE = 3000;
/** People restated alike by both files (in other orders), and a few of each file's own. */
function file(name: string, order: number[], own: string): string {
  const rows = ['cons_id,member_id,email,first_name,city'];
  for (const i of order) rows.push(`C${i},M${i},p${i}@example.org,P${i},Lyon`);
  for (let i = 0; i < 50; i++) rows.push(`,${own}${i},${own.toLowerCase()}${i}@example.org,${own}${i},Nice`);
  const f = path.join(dir, name);
  writeFileSync(f, rows.join('\n') + '\n');
  return f;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

it('gives the store of the two imports one after the other, each person created once', { timeout: 120_000 }, async () => {
  const ids = [...Array(PEOPLE).keys()];
  const a = file('a.csv', ids, 'A');
  // b is shorter: a goes on alone after it, deciding ahead with no one in between
  const b = file('b.csv', ids.slice(PEOPLE / 2).reverse(), 'B');
  const config = loadConfig({ env: {}, overrides: { import: { batchSize: 100 } } });
  const [la, lb] = [capture(), capture()];
  const [sa, sb] = await Promise.all([
    importFile(a, { db: together.knex, config, log: la.log }),
    importFile(b, { db: together.knex, config, log: lb.log }),
  ]);
  await expectBalanced(together.knex, sa, { inputRows: csvDataRows(a) });
  await expectBalanced(together.knex, sb, { inputRows: csvDataRows(b) });
  expect(sa.created + sb.created).toBe(PEOPLE + 100);
  expect(sa.conflicts + sb.conflicts).toBe(0);

  await importFile(a, { db: serial.knex, config, log: la.log.child({}, { level: 'silent' }) });
  await importFile(b, { db: serial.knex, config, log: la.log.child({}, { level: 'silent' }) });
  const snapshot = (d: TestDb) => d.knex('members').orderBy(['cons_id', 'member_id']).select('cons_id', 'member_id', 'email', 'first_name', 'city');
  expect(await snapshot(together)).toEqual(await snapshot(serial));

  // the batches interleaved, and decisions made ahead were made again when they had to be
  const ahead = [...la.lines, ...lb.lines].flatMap((l) => (l.decidedAhead ? [l.decidedAhead as { used: number; redone: number }] : []));
  expect(ahead).toHaveLength(2);
  expect(ahead.reduce((n, x) => n + x.redone, 0)).toBeGreaterThan(0);
  expect(ahead.reduce((n, x) => n + x.used, 0)).toBeGreaterThan(0);
});
