/** Reading a file the way it was meant: the mapping its headers fit, the encoding asked for, the key it is remembered by. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { detectMapping, loadMapping, otherColumns, planHeaders } from '../../src/csv/mappings.js';
import { parseEncoding, readCsv, readHeader, type InputEncoding } from '../../src/csv/read-csv.js';
import { importOptionsKey } from '../../src/pipeline/import-file.js';
import type { InputItem } from '../../src/pipeline/ingest.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-csv-detect-'));
let n = 0;
function file(content: string | Buffer): string {
  const f = path.join(dir, `f${++n}.csv`);
  writeFileSync(f, content);
  return f;
}

async function read(content: Buffer, encoding: InputEncoding): Promise<InputItem[]> {
  const csv = await readCsv(file(content), 0, { mapping: loadMapping('canonical'), batchSize: 100, encoding, hasConnection: false });
  const items: InputItem[] = [];
  for await (const b of csv.batches) items.push(...b.items);
  return items;
}

describe('the mapping a file fits', () => {
  const pick = (headers: string[], hasConnection = false) => detectMapping(headers, hasConnection).name;

  it('picks the built-in mapping that knows the most headers', () => {
    expect(pick(['CONS_ID', 'PRIMARY_EMAIL', 'FIRST_NAME', 'LAST_NAME', 'HOME_CITY'])).toBe('convio');
    // canonical knows these four too (case-insensitively); convio knows PRIMARY_EMAIL as well
    expect(pick(['CONS_ID', 'MEMBER_ID', 'FIRST_NAME', 'LAST_NAME', 'PRIMARY_EMAIL'])).toBe('convio');
    expect(pick(['memberNumber', 'name', 'surname', 'email', 'phone', 'nationalId'])).toBe('vocdoni');
    expect(pick(['name', 'last_name', 'email', 'id_card', 'born_date', 'provice', 'languaje'])).toBe('community');
  });

  it('keeps canonical on a tie, for canonical files, and when no mapping finds an identity column', () => {
    expect(pick(['email', 'first_name', 'last_name', 'city'])).toBe('canonical');
    expect(pick(['cons_id', 'email'])).toBe('canonical');
    expect(pick(['first_name', 'surname'])).toBe('canonical');
    expect(pick([])).toBe('canonical');
  });

  it('needs an identity column among the headers it knows: external ids count only with a connection', () => {
    // vocdoni knows `id` as the external id, and four more headers
    expect(pick(['id', 'name', 'surname', 'phone', 'weight'])).toBe('canonical');
    expect(pick(['id', 'name', 'surname', 'phone', 'weight'], true)).toBe('vocdoni');
  });

  it('lists the headers whose values go to other', () => {
    expect(otherColumns(planHeaders(['email', 'Notes', '', 'first_name', 'Colour'], loadMapping('canonical'), false))).toEqual(['Notes', 'Colour']);
  });
});

describe('encodings', () => {
  it('accepts the encodings and their common names, refuses others naming the allowed ones', () => {
    expect(['utf8', 'UTF-8', 'windows-1252', 'CP1252', 'latin1', 'ISO-8859-1', 'utf16le', 'UTF-16LE'].map(parseEncoding)).toEqual(['utf8', 'utf8', 'windows-1252', 'windows-1252', 'latin1', 'latin1', 'utf16le', 'utf16le']);
    expect(() => parseEncoding('ascii')).toThrow("--encoding: expected one of utf8, windows-1252, latin1, utf16le, got 'ascii'");
  });

  it('reads windows-1252 (curly quotes, the euro sign) and UTF-16LE without a BOM', async () => {
    const cp = iconv.encode('email,first_name,last_name\nana@x.org,“Ana”,€uro Peña\n', 'windows-1252');
    expect(await read(cp, 'windows-1252')).toMatchObject([{ values: { email: 'ana@x.org', first_name: '“Ana”', last_name: '€uro Peña' } }]);
    // latin1 is ISO-8859-1: 0x80 is a control character there, not the euro sign
    expect(await read(iconv.encode('email,last_name\nb@x.org,Peña\n', 'latin1'), 'latin1')).toMatchObject([{ values: { last_name: 'Peña' } }]);
    expect(await read(Buffer.from('email,first_name\nzoe@x.org,Zoë\n', 'utf16le'), 'utf16le')).toMatchObject([{ values: { first_name: 'Zoë' } }]);
  });

  it('a byte windows-1252 leaves undefined rejects its row, saying so', async () => {
    const items = await read(Buffer.concat([Buffer.from('email,first_name\nc@x.org,A'), Buffer.from([0x81]), Buffer.from('\n')]), 'windows-1252');
    expect(items).toMatchObject([{ rejected: true, reason: "column 'first_name' is not valid windows-1252 text" }]);
  });

  it('reads the header line ahead, in the encoding the BOM or the option says', async () => {
    expect(await readHeader(file('"CONS_ID";PRIMARY_EMAIL;"FIRST, NAME"\r\n1;a@x.org;A\r\n'))).toEqual(['CONS_ID', 'PRIMARY_EMAIL', 'FIRST, NAME']);
    expect(await readHeader(file(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('memberNumber,name\n1,A\n', 'utf16le')])))).toEqual(['memberNumber', 'name']);
    expect(await readHeader(file(Buffer.from('e-mail,Pré\n', 'utf16le')), 'utf16le')).toEqual(['e-mail', 'Pré']);
    expect(await readHeader(file(''))).toEqual([]);
  });
});

describe('the key an imported file is remembered by', () => {
  const canonical = loadMapping('canonical');
  it('is empty for the defaults, which is what files imported before it meant', () => {
    expect(importOptionsKey({ mapping: canonical })).toBe('');
    expect(importOptionsKey({ mapping: canonical, encoding: 'utf8' })).toBe('');
  });

  it('changes with each option that changes what the import does', () => {
    const keys = [
      importOptionsKey({ mapping: canonical }),
      importOptionsKey({ mapping: loadMapping('convio') }),
      importOptionsKey({ mapping: canonical, encoding: 'windows-1252' }),
      importOptionsKey({ mapping: canonical, encoding: 'latin1' }),
      importOptionsKey({ mapping: canonical, connection: 'convio-main' }),
      importOptionsKey({ mapping: canonical, source: 'partner' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys[1]).toBe('{"mapping":"convio"}');
  });

  it('tells a YAML mapping by what it does, not only by its name', () => {
    const a = file('name: partner\ncolumns: { Mail: email }\n');
    const b = file('name: partner\ncolumns: { Mail: email, Nr: member_id }\n');
    const renamed = file('name: canonical\ncolumns: { Mail: email }\n');
    expect(importOptionsKey({ mapping: loadMapping(a) })).toMatch(/^\{"mapping":"partner#[0-9a-f]{12}"\}$/);
    expect(importOptionsKey({ mapping: loadMapping(a) })).not.toBe(importOptionsKey({ mapping: loadMapping(b) }));
    expect(importOptionsKey({ mapping: loadMapping(renamed) })).not.toBe('');
  });
});
