/**
 * Input read the way it was meant, as a user imports it: a Windows-1252 or UTF-16 file
 * with --encoding, a Convio export without --mapping, columns no mapping knows, and the
 * same bytes imported again after fixing how they are read.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-import-options-'));

type Result = { code: number; stdout: string; stderr: string };

async function cli(args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: db.url } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as Result;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function file(name: string, content: string | Buffer): string {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}

const member = async (key: string) => JSON.parse((await cli(['members', 'show', key, '--json'])).stdout).member as Record<string, unknown>;

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
});

describe('import: encodings, mappings and the same file again', () => {
  // as Excel on Windows saves it: é and ñ as single bytes, a curly apostrophe at 0x92
  const cp1252 = Buffer.concat([Buffer.from('email,first_name,last_name\njose@example.org,Jos'), Buffer.from([0xe9]), Buffer.from(',O'), Buffer.from([0x92]), Buffer.from('Brien Mu'), Buffer.from([0xf1]), Buffer.from('oz\n')]);

  it('a Windows-1252 file: the reject suggests --encoding windows-1252; with it the file is imported, not skipped as seen', async () => {
    const f = file('excel.csv', cp1252);
    const first = await cli(['import', f, '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ rows: 1, rejected: 1 });
    const rejects = JSON.parse((await cli(['rejects', '--json'])).stdout.split('\n')[0]);
    expect(rejects.reason).toMatch(/not valid UTF-8 text .*--encoding windows-1252/);
    // the same bytes read as they were meant
    const fixed = await cli(['import', f, '--encoding', 'windows-1252', '--json']);
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.stdout)).toMatchObject({ rows: 1, created: 1, rejected: 0 });
    expect(await member('jose@example.org')).toMatchObject({ first_name: 'José', last_name: 'O\u2019Brien Muñoz' });
    // and once more the same way: skipped, saying how to import it anyway
    const again = await cli(['import', f, '--encoding', 'windows-1252']);
    expect(again.stdout).toMatch(/excel\.csv: skipped, the same content was imported with the same options \(mapping canonical, encoding windows-1252\) as excel\.csv in run \d+; --force imports it again/);
    const forced = await cli(['import', f, '--encoding', 'windows-1252', '--force', '--json']);
    expect(JSON.parse(forced.stdout)).toMatchObject({ rows: 1, unchanged: 1 });
  });

  it('utf16le and latin1 without a BOM; an unknown encoding is refused naming the allowed ones', async () => {
    const f16 = file('utf16.csv', Buffer.from('email,first_name\nzoe@example.org,Zoë\n', 'utf16le'));
    const r16 = await cli(['import', f16, '--encoding', 'utf16le', '--json']);
    expect(JSON.parse(r16.stdout)).toMatchObject({ created: 1, rejected: 0 });
    expect(await member('zoe@example.org')).toMatchObject({ first_name: 'Zoë' });
    const f1 = file('latin1.csv', Buffer.concat([Buffer.from('email,first_name\nrene@example.org,Ren'), Buffer.from([0xe9]), Buffer.from('\n')]));
    expect(JSON.parse((await cli(['import', f1, '--encoding', 'latin1', '--json'])).stdout)).toMatchObject({ created: 1 });
    expect(await member('rene@example.org')).toMatchObject({ first_name: 'René' });
    const bad = await cli(['import', f1, '--encoding', 'ebcdic']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("member-sync: --encoding: expected one of utf8, windows-1252, latin1, utf16le, got 'ebcdic'\n");
  });

  it('a Convio export without --mapping is read with the convio mapping, named in the summary', async () => {
    const content = 'CONS_ID,MEMBER_ID,PRIMARY_EMAIL,FIRST_NAME,LAST_NAME,HOME_CITY\n7001,M-7001,carla@example.org,Carla,Reyes,Oaxaca\n';
    // read first the wrong way, as a user who asked for the canonical mapping would
    const asCanonical = await cli(['import', file('convio-export.csv', content), '--mapping', 'canonical', '--json']);
    expect(JSON.parse(asCanonical.stdout)).toMatchObject({ mapping: 'canonical', mapping_detected: false, other_columns: ['PRIMARY_EMAIL', 'HOME_CITY'] });
    // the same bytes, no --mapping: not skipped, and read as Convio
    const r = await cli(['import', file('convio-export.csv', content)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/convio-export\.csv: 1 rows: 0 created, 1 updated, .*\(run \d+; mapping convio, chosen from the headers\)/);
    expect(await member('carla@example.org')).toMatchObject({ cons_id: '7001', member_id: 'M-7001', city: 'Oaxaca' });
    const json = await cli(['import', file('convio-2.csv', content.replace('7001,M-7001,carla', '7002,M-7002,dora')), '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ mapping: 'convio', mapping_detected: true, created: 1 });
  });

  it('columns the mapping does not know are listed once, as a warning', async () => {
    const f = file('extra.csv', 'email,first_name,Notes,Favourite colour\nnoa@example.org,Noa,likes tea,green\nned@example.org,Ned,,blue\n');
    const r = await cli(['import', f, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ created: 2, other_columns: ['Notes', 'Favourite colour'] });
    const warnings = r.stderr.split('\n').filter((l) => /Favourite colour/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/columns mapping 'canonical' does not know are kept under other: Notes, Favourite colour/);
  });
});
