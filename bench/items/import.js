// Import of one CSV file into a fresh database: the COPY floor, pgloader, member-sync
// (and its re-import of the same rows under another file name).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CSV_HEADER } from '../../dist/members/generate.js';
import { count, createDatabase, dropDatabase } from '../lib/pg.js';
import { check, lastJson, run } from '../lib/proc.js';

const DDL = `CREATE TABLE raw_members (${CSV_HEADER.map((c) => `${c} text`).join(', ')})`;
const sqlString = (s) => `'${s.replace(/'/g, "''")}'`;

/** psql: CREATE TABLE, then \copy the file in. Returns {ms}. */
export async function copyFloor(ctx, file, rows) {
  const db = await createDatabase('copy');
  try {
    const res = await run('psql', [db.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', DDL, '-c', `\\copy raw_members FROM ${sqlString(file)} CSV HEADER`], { env: ctx.env(), timeoutMs: ctx.left() });
    check(res, 'psql \\copy');
    const loaded = await count(db.url, 'raw_members');
    if (loaded !== rows) throw new Error(`psql \\copy loaded ${loaded} rows, expected ${rows}`);
    return { ms: res.ms, peakRssKb: res.peakRssKb };
  } finally {
    await dropDatabase(db);
  }
}

function loadFile(file, url) {
  const cols = CSV_HEADER.join(', ');
  return `LOAD CSV
  FROM ${sqlString(file)} WITH ENCODING utf-8
  HAVING FIELDS (${cols})
  INTO ${url}
  TARGET TABLE raw_members
  TARGET COLUMNS (${cols})
  WITH skip header = 1,
       fields optionally enclosed by '"',
       fields escaped by double-quote,
       fields terminated by ','
  BEFORE LOAD DO
  $$ ${DDL}; $$;
`;
}

/** pgloader with a load file: the table made in BEFORE LOAD, then the CSV. Returns {ms, peakRssKb}. */
export async function pgloader(ctx, file, rows) {
  const db = await createDatabase('pgloader');
  try {
    const load = path.join(ctx.tmpDir, `${db.name}.load`);
    writeFileSync(load, loadFile(file, db.url.replace(/^postgres:/, 'postgresql:')));
    const res = await run('pgloader', ['--quiet', load], { env: ctx.env(), cwd: ctx.tmpDir, timeoutMs: ctx.left() });
    check(res, 'pgloader');
    const loaded = await count(db.url, 'raw_members');
    if (loaded !== rows) throw new Error(`pgloader loaded ${loaded} rows, expected ${rows}:\n${res.stdout.slice(-1500)}${res.stderr.slice(-1500)}`);
    return { ms: res.ms, peakRssKb: res.peakRssKb };
  } finally {
    await dropDatabase(db);
  }
}

async function importCli(ctx, db, file, rows) {
  const res = await run(process.execPath, [ctx.bin, 'import', file, '--json'], { env: ctx.env({ DATABASE_URL: db.url }), cwd: ctx.tmpDir, timeoutMs: ctx.left() });
  check(res, `member-sync import ${path.basename(file)}`);
  const summary = lastJson(res.stdout);
  if (summary.skipped) throw new Error(`member-sync import skipped ${file}: ${summary.skipped.reason}`);
  const sum = summary.created + summary.updated + summary.unchanged + summary.conflicts + summary.rejected;
  if (summary.rows !== rows || sum !== rows) throw new Error(`member-sync import read ${summary.rows} rows (outcomes ${sum}), expected ${rows}`);
  return { ms: res.ms, peakRssKb: res.peakRssKb, cpuMs: res.cpuMs, summary };
}

/**
 * member-sync import of `file` into a fresh database, then (when `again` is given) the
 * same rows under another file name into the same database.
 */
export async function memberSyncImport(ctx, file, rows, again) {
  const db = await createDatabase('import');
  try {
    const first = await importCli(ctx, db, file, rows);
    const second = again ? await importCli(ctx, db, again, rows) : undefined;
    return { first, again: second };
  } finally {
    await dropDatabase(db);
  }
}
