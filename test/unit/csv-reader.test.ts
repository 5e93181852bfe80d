import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { loadMapping } from '../../src/csv/mappings.js';
import { detectDelimiter, readCsv } from '../../src/csv/read-csv.js';
import type { InputItem } from '../../src/pipeline/ingest.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-csv-'));
let n = 0;
function file(content: string | Buffer): string {
  const f = path.join(dir, `f${++n}.csv`);
  writeFileSync(f, content);
  return f;
}

async function read(content: string | Buffer, opts: { mapping?: string; encoding?: 'latin1'; batchSize?: number } = {}): Promise<InputItem[]> {
  const f = file(content);
  const csv = await readCsv(f, 0, { mapping: loadMapping(opts.mapping), batchSize: opts.batchSize ?? 1000, encoding: opts.encoding, hasConnection: false });
  const items: InputItem[] = [];
  for await (const b of csv.batches) items.push(...b.items);
  return items;
}

const values = (i: InputItem) => ('rejected' in i ? { rejected: i.reason } : i.values);

describe('CSV reading', () => {
  it('reads UTF-8 with a BOM and CRLF line ends', async () => {
    const items = await read('\uFEFFemail,first_name\r\nana@x.org,Ana\r\nbob@x.org,Bob\r\n');
    expect(items.map(values)).toEqual([{ email: 'ana@x.org', first_name: 'Ana' }, { email: 'bob@x.org', first_name: 'Bob' }]);
  });

  it('keeps commas, quotes and newlines inside quoted fields and numbers lines from where a row starts', async () => {
    const items = await read('email,address,city\n"a@x.org","1 Main St, Apt ""B""\nBack door",Oslo\nb@x.org,x,Rome\n');
    expect(items.map(values)[0]).toEqual({ email: 'a@x.org', address: '1 Main St, Apt "B"\nBack door', city: 'Oslo' });
    expect(items.map((i) => i.ref.line)).toEqual([2, 4]);
  });

  it.each([
    ['semicolon', ';'],
    ['tab', '\t'],
  ])('detects a %s delimiter from the header', async (_name, d) => {
    const items = await read(`email${d}first_name${d}city\nana@x.org${d}Ana${d}Vigo, Spain\n`);
    expect(items.map(values)).toEqual([{ email: 'ana@x.org', first_name: 'Ana', city: 'Vigo, Spain' }]);
  });

  it('picks the delimiter outside quotes', () => expect(detectDelimiter('"a,b,c";d;e')).toBe(';'));

  it('reads Latin-1 when asked', async () => {
    const items = await read(iconv.encode('email,first_name\nj@x.org,José Muñoz\n', 'latin1'), { encoding: 'latin1' });
    expect(items.map(values)).toEqual([{ email: 'j@x.org', first_name: 'José Muñoz' }]);
  });

  it.each(['utf16le', 'utf16be'])('detects %s by its BOM', async (enc) => {
    const bom = enc === 'utf16le' ? Buffer.from([0xff, 0xfe]) : Buffer.from([0xfe, 0xff]);
    const body = iconv.encode('email;first_name\nz@x.org;Zoë\n', enc);
    const items = await read(Buffer.concat([bom, body]));
    expect(items.map(values)).toEqual([{ email: 'z@x.org', first_name: 'Zoë' }]);
  });

  it('numbers rows by physical line after blank lines and after CRLF line breaks inside quotes', async () => {
    const lf = await read('email,first_name\n\n\na@x.org,Ana\n\nb@x.org,"B\nob"\nc@x.org,Cy\n');
    expect(lf.map((i) => i.ref.line)).toEqual([4, 6, 8]);
    const crlf = await read('email,first_name\r\n\r\na@x.org,"A\r\nna"\r\nb@x.org,Bob\rc@x.org,Cy\r\n');
    expect(crlf.map((i) => i.ref.line)).toEqual([3, 5, 6]);
    expect(values(crlf[0])).toEqual({ email: 'a@x.org', first_name: 'A\r\nna' });
  });

  it('an empty file is an error', async () => {
    await expect(read('')).rejects.toThrow(/empty/);
  });

  it('a header-only file has no rows', async () => {
    expect(await read('email,first_name\n')).toEqual([]);
  });

  it('a ragged row is rejected with its line number and kept', async () => {
    const items = await read('email,first_name\na@x.org,A\nb@x.org,B,extra\nc@x.org,C\n');
    expect(items[1]).toMatchObject({ rejected: true, ref: { line: 3 }, reason: 'row has 3 fields; the header has 2' });
    expect(items).toHaveLength(3);
  });

  it('an unclosed quote becomes a reject, not a crash', async () => {
    const items = await read('email,first_name\na@x.org,A\nb@x.org,"B\n');
    expect(items).toHaveLength(2);
    expect(items[1]).toMatchObject({ rejected: true });
  });

  it('duplicate headers are an error naming the columns', async () => {
    await expect(read('email,Email\na@x.org,b@x.org\n')).rejects.toThrow(/duplicate header 'Email' \(columns 1 and 2\)/);
  });

  it('a file without an identity column is an error naming what is needed', async () => {
    await expect(read('first_name,last_name\nA,B\n')).rejects.toThrow(/missing required headers.*cons_id, member_id, email/);
  });

  it('headers match case-insensitively; unmapped columns go to other', async () => {
    const items = await read('EMAIL,First_Name,Shirt Size\na@x.org,A,XL\n');
    expect(items[0]).toMatchObject({ values: { email: 'a@x.org', first_name: 'A' }, other: { 'Shirt Size': 'XL' } });
  });

  it('built-in mappings: convio, vocdoni and community (sex H/M)', async () => {
    const convio = await read('CONS_ID,MEMBER_ID,PRIMARY_EMAIL,FIRST_NAME,HOME_STATEPROV\n100,M1,a@x.org,Ann,CA\n', { mapping: 'convio' });
    expect(values(convio[0])).toEqual({ cons_id: '100', member_id: 'M1', email: 'a@x.org', first_name: 'Ann', province: 'CA' });
    const voc = await read('memberNumber,name,surname,nationalId,birthDate,weight\nM7,Eva,Ruiz,123X,1990-01-01,2\n', { mapping: 'vocdoni' });
    expect(values(voc[0])).toEqual({ member_id: 'M7', first_name: 'Eva', last_name: 'Ruiz', national_id: '123X', birth_date: '1990-01-01', weight: '2' });
    const com = await read('name,last_name,email,id_card,provice,sex,languaje\nLuis,Gil,l@x.org,9Z,Madrid,H,es\n', { mapping: 'community' });
    expect(values(com[0])).toEqual({ first_name: 'Luis', last_name: 'Gil', email: 'l@x.org', national_id: '9Z', province: 'Madrid', sex: 'male', language: 'es' });
  });

  it('a YAML mapping file maps columns and values', async () => {
    const m = file('name: crm\ncolumns:\n  E-mail: email\n  Ref: external_id\n  Drop: ignore\nvalues:\n  sex: { V: male }\n');
    const items = await read('E-mail,Ref,Drop,Sex\na@x.org,r1,zzz,V\n', { mapping: m });
    expect(items[0]).toMatchObject({ values: { email: 'a@x.org' }, other: { Sex: 'V' }, ref: { externalId: 'r1' } });
  });

  it('an unknown mapping name is an error listing the built-in ones', () => {
    expect(() => loadMapping('nope')).toThrow(/unknown mapping 'nope'.*canonical, convio, vocdoni, community/);
  });

  it('batches hold at most batchSize items and every row comes out once', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => `u${i}@x.org,N${i}`).join('\n');
    const f = file(`email,first_name\n${rows}\n`);
    const csv = await readCsv(f, 0, { mapping: loadMapping(undefined), batchSize: 10, hasConnection: false });
    const sizes: number[] = [];
    for await (const b of csv.batches) sizes.push(b.items.length);
    expect(sizes).toEqual([10, 10, 5]);
  });
});
