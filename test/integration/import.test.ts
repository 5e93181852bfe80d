import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { fieldOrigins } from '../../src/store/inspect-repo.js';
import { rowToMember } from '../../src/store/member-rows.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-import-'));
const write = (name: string, content: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
};
const config = (over: Record<string, unknown> = {}) =>
  loadConfig({ env: {}, overrides: { import: { batchSize: 3, fileTrust: 0 }, connections: { 'crm-high': { kind: 'convio', baseUrl: 'http://127.0.0.1:1/', trust: 10 } }, ...over } });

const PEOPLE = `cons_id,member_id,email,first_name,last_name,phone,city
1001,M-1,Ana.Garcia@Example.org,Ana,García,(415) 555-2671,Oslo
,M-1,ana.garcia@example.org,Ana María,,,
1002,,bob@example.org,Bob,Smith,,
,,BOB@example.org,,,,Rome
,,bad-email,X,Y,,
,,,No,Keys,,
1003,M-1,other@example.org,Cara,,,
1004,M-4,bob@example.org,Bobby,,,
`;

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
});

describe('import into PostgreSQL', () => {
  it('applies the identity rules across batches, and every row is accounted for', async () => {
    const f = write('people.csv', PEOPLE);
    const s = await importFile(f, { db: db.knex, config: config(), log });
    expect(s).toMatchObject({ rows: 8, created: 2, updated: 2, unchanged: 0, conflicts: 2, rejected: 2 });
    expect(s.rows).toBe(s.created + s.updated + s.unchanged + s.conflicts + s.rejected);
    const members = await db.knex('members').orderBy('cons_id');
    expect(members).toHaveLength(2);
    expect(members[0]).toMatchObject({ cons_id: '1001', member_id: 'M-1', email: 'ana.garcia@example.org', first_name: 'Ana María', phone: '+14155552671' });
    expect(members[1]).toMatchObject({ cons_id: '1002', email: 'bob@example.org', city: 'Rome' });
    const conflicts = await db.knex('conflicts').where({ run_id: s.run_id }).orderBy('id');
    expect(conflicts.map((c) => [c.source_ref, c.reason])).toEqual([
      ['line 8', 'cons_id_mismatch'],
      ['line 9', 'cons_id_mismatch'],
    ]);
    const rejects = await db.knex('rejects').where({ run_id: s.run_id }).orderBy('line');
    expect(rejects.map((r) => r.line)).toEqual([6, 7]);
    expect(rejects[0].raw).toMatchObject({ email: 'bad-email' });
    const run = await db.knex('runs').where({ id: s.run_id }).first();
    expect(run).toMatchObject({ status: 'succeeded', rows: 8, created: 2, updated: 2, conflicts: 2, rejected: 2 });
  });

  it('writes the change log and field provenance', async () => {
    const ana = await db.knex('members').where({ cons_id: '1001' }).first();
    const changes = await db.knex('member_changes').where({ member_id: ana.id }).orderBy('id');
    expect(changes.map((c) => [c.field, c.rule, c.source_ref])).toEqual([
      ['_created', 'new', 'line 2'],
      ['first_name', 'member_id', 'line 3'],
    ]);
    // rows of files without a connection are records of one file source, named after the mapping
    expect(changes[1]).toMatchObject({ old: 'Ana', new: 'Ana María', source: 'file:canonical' });
    expect(ana.created_run_id).toBe(changes[0].run_id);
    // each line restated the person under its own strongest key: two source records
    const sources = await db.knex('source_records').where({ member_id: ana.id }).orderBy('id');
    expect(sources.map((r) => [r.source, r.source_key])).toEqual([
      ['file:canonical', 'cons_id:1001'],
      ['file:canonical', 'member_id:M-1'],
    ]);
    const later = write('ana-later.csv', 'cons_id,city\n1001,Bergen\n');
    const s = await importFile(later, { db: db.knex, config: config(), log });
    const again = await db.knex('members').where({ cons_id: '1001' }).first();
    expect(again.city).toBe('Bergen');
    const { origins } = await fieldOrigins(db.knex, rowToMember(again), () => 0);
    expect(origins.city).toMatchObject({ source: 'file:canonical', key: 'cons_id:1001', run: s.run_id });
    expect(origins.first_name).toMatchObject({ source: 'file:canonical', key: 'member_id:M-1' });
  });

  it('the same content again is recognized by sha256 and changes nothing', async () => {
    const before = await db.knex('runs').count('* as n');
    const s = await importFile(path.join(dir, 'people.csv'), { db: db.knex, config: config(), log });
    expect(s.skipped?.previous_run_id).toBeGreaterThan(0);
    expect(s.rows).toBe(0);
    expect(await db.knex('runs').count('* as n')).toEqual(before);
  });

  it('the same rows under another name come out unchanged (conflicts and rejects again)', async () => {
    const rows = 'cons_id,member_id,email,first_name\n3001,M-31,c1@x.org,C\n,M-31,C1@x.org,C\n3002,,c2@x.org,D\n,,bad,E\n3003,M-31,c3@x.org,F\n';
    const first = await importFile(write('stable.csv', rows), { db: db.knex, config: config(), log });
    expect(first).toMatchObject({ rows: 5, created: 2, unchanged: 1, conflicts: 1, rejected: 1 });
    const again = await importFile(write('stable-renamed.csv', rows + '\n'), { db: db.knex, config: config(), log });
    expect(again).toMatchObject({ rows: 5, created: 0, updated: 0, unchanged: 3, conflicts: 1, rejected: 1 });
  });

  it('rows of one file that restate a person under different keys come out unchanged on a re-import', async () => {
    const again = await importFile(write('people-again.csv', PEOPLE + '\n'), { db: db.knex, config: config(), log });
    // line 2 (cons_id 1001) and line 3 (member_id M-1) are two source records of the person.
    // Line 3 is sent again as it was: unchanged. Line 2 says city Oslo, which ana-later.csv
    // had changed to Bergen under the same key since: Oslo is newer now, an update.
    expect(again).toMatchObject({ rows: 8, created: 0, updated: 1, unchanged: 3, conflicts: 2, rejected: 2 });
    const ana = await db.knex('members').where({ cons_id: '1001' }).first();
    expect(ana).toMatchObject({ first_name: 'Ana María', city: 'Oslo' });
  });

  it('a dry run decides the same and writes nothing', async () => {
    const f = write('new-people.csv', 'email,first_name\nnew1@x.org,N1\nnew2@x.org,N2\nNEW1@x.org,Again\nana.garcia@example.org,Annie\n');
    const counts = async () => ({
      members: (await db.knex('members').count('* as n'))[0].n,
      changes: (await db.knex('member_changes').count('* as n'))[0].n,
      runs: (await db.knex('runs').count('* as n'))[0].n,
    });
    const before = await counts();
    const dry = await importFile(f, { db: db.knex, config: config(), log, dryRun: true });
    expect(dry).toMatchObject({ run_id: null, rows: 4, created: 2, updated: 2 });
    expect(await counts()).toEqual(before);
    const real = await importFile(f, { db: db.knex, config: config(), log });
    expect(real).toMatchObject({ rows: 4, created: 2, updated: 2 });
  });

  it('a field set by a more trusted connection is not overwritten by a file', async () => {
    const f1 = write('from-crm.csv', 'cons_id,email,city\n2001,trusted@x.org,Lyon\n');
    await importFile(f1, { db: db.knex, config: config(), log, connection: 'crm-high' });
    const f2 = write('from-file.csv', 'email,city,first_name\ntrusted@x.org,Paris,Tess\n');
    const s = await importFile(f2, { db: db.knex, config: config(), log });
    expect(s.updated).toBe(1);
    const m = await db.knex('members').where({ email: 'trusted@x.org' }).first();
    expect(m).toMatchObject({ city: 'Lyon', first_name: 'Tess' });
  });

  it('links external ids of a connection and matches them first next time', async () => {
    const f1 = write('linked.csv', 'external_id,email,first_name\nR-1,link@x.org,Lin\n');
    await importFile(f1, { db: db.knex, config: config(), log, connection: 'crm-high' });
    const f2 = write('linked2.csv', 'external_id,email,first_name\nR-1,changed@x.org,Lin\n');
    const s = await importFile(f2, { db: db.knex, config: config(), log, connection: 'crm-high' });
    expect(s).toMatchObject({ updated: 1, created: 0 });
    const links = await db.knex('member_links').where({ connection: 'crm-high', external_id: 'R-1' });
    expect(links).toHaveLength(1);
    const m = await db.knex('members').where({ id: links[0].member_id }).first();
    expect(m.email).toBe('changed@x.org');
  });

  it('unknown connection is an input error', async () => {
    await expect(importFile(path.join(dir, 'linked.csv'), { db: db.knex, config: config(), log, connection: 'nope' })).rejects.toThrow(/unknown connection 'nope'/);
  });
});

describe('duplicate emails allowed', () => {
  let dupDb: TestDb;
  beforeAll(async () => {
    dupDb = await createTestDb({ allowDuplicateEmails: true });
  });
  afterAll(async () => {
    await dupDb?.drop();
  });
  it('two members may share an email, and an email-only record is then ambiguous', async () => {
    const cfg = config({ matching: { allowDuplicateEmails: true } });
    const f = write('dups.csv', 'cons_id,email\n1,same@x.org\n2,other@x.org\n2,same@x.org\n,same@x.org\n');
    const s = await importFile(f, { db: dupDb.knex, config: cfg, log });
    expect(s).toMatchObject({ created: 2, updated: 1, conflicts: 1 });
    expect(await dupDb.knex('members').where({ email: 'same@x.org' })).toHaveLength(2);
    const [c] = await dupDb.knex('conflicts');
    expect(c).toMatchObject({ reason: 'ambiguous_email', source_ref: 'line 5' });
    expect(c.candidate_ids).toHaveLength(2);
  });
});
