/**
 * Source records end to end, over the sandbox's simulators on loopback and a real
 * PostgreSQL: pulls of unchanged sources in any order are no-ops and the push after them
 * sends nothing; a member split off and reverted; the rules previewed under another config.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { pullConnection } from '../../src/pipeline/pull.js';
import { pushConnection } from '../../src/pipeline/push.js';
import { revertRun } from '../../src/pipeline/revert.js';
import { previewRules } from '../../src/pipeline/rules-preview.js';
import { splitMember } from '../../src/pipeline/split.js';
import { startSandbox, type Sandbox } from '../../src/server/sandbox.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { csvFile } from './push-setup.js';
import { importFile } from '../../src/pipeline/import-file.js';

const quiet = log.child({}, { level: 'fatal' });
let sb: Sandbox;
let db: TestDb;
let config: ReturnType<typeof loadConfig>;

beforeAll(async () => {
  sb = await startSandbox({ people: 60, seed: 11 });
  db = await createTestDb();
  config = loadConfig({ env: { ...process.env, ...sb.env }, overrides: { connections: sb.connections, import: { batchSize: 25 } } });
});
afterAll(async () => {
  await db?.drop();
  await sb?.close();
});

const imp = (content: string, connection?: string) => importFile(csvFile(content), { db: db.knex, config, log: quiet, connection });
const count = async (table: string) => Number((await db.knex(table).count({ n: '*' }).first())?.n);
const pull = (name: string) => pullConnection(name, { db: db.knex, config, log: quiet, full: true });

describe('source records', () => {
  it('pulls of unchanged sources, in any order, change nothing, and the push after them sends nothing', async () => {
    for (const name of ['convio-sandbox', 'community-sandbox', 'vocdoni-sandbox']) await pull(name);
    const first = await pushConnection('wevote-sandbox', { db: db.knex, config, log: quiet });
    expect(first.created + first.updated).toBeGreaterThan(0);
    const changes = await count('member_changes');
    for (const name of ['vocdoni-sandbox', 'convio-sandbox', 'vocdoni-sandbox', 'community-sandbox', 'convio-sandbox']) {
      const s = await pull(name);
      expect(s, name).toMatchObject({ created: 0, updated: 0, conflicts: 0 });
      expect(s.unchanged + s.rejected, name).toBe(s.rows);
    }
    expect(await count('member_changes')).toBe(changes);
    const again = await pushConnection('wevote-sandbox', { db: db.knex, config, log: quiet });
    expect(again).toMatchObject({ created: 0, updated: 0 });
    // each record a member absorbed is kept, keyed by its source's own id
    const srs = await db.knex('source_records').where({ source: 'vocdoni-sandbox' }).pluck('source_key');
    expect(srs.length).toBeGreaterThan(0);
    for (const k of srs) expect(k).toMatch(/^ext:/);
  });

  it('previews the rules under another config, writing nothing', async () => {
    // a file row restates a pulled member with another city; Convio (trust 10) gave the city it has
    const m = await db.knex('members').whereNotNull('city').whereNotNull('email').orderBy('id').first();
    await importFile(csvFile(`email,city\n${m.email},Previewville\n`), { db: db.knex, config, log: quiet });
    const before = { members: await count('members'), changes: await count('member_changes') };
    const same = await previewRules(db.knex, config, config);
    expect(same.source_records).toBe(await count('source_records'));
    expect(same).toMatchObject({ members_now: before.members, members_then: before.members, merge: { count: 0 }, split: { count: 0 }, change: { count: 0 }, conflicts: { count: 0 } });
    expect((await db.knex('members').where({ id: m.id }).first()).city).toBe(m.city);
    // files trusted above every connection: that member would take the file's city
    const trusting = loadConfig({ env: { ...process.env, ...sb.env }, overrides: { connections: sb.connections, import: { fileTrust: 100 } } });
    const p = await previewRules(db.knex, config, trusting);
    expect(p.change.count).toBe(1);
    expect(p.change.examples[0]).toMatchObject({ members: [m.id], detail: `city: ${JSON.stringify(m.city)} -> "Previewville"` });
    expect({ members: await count('members'), changes: await count('member_changes') }).toEqual(before);
  });

  it('splits a source off a member, refuses to leave one with none, and a revert puts it back', async () => {
    // a file row and a Vocdoni record reach one member by e-mail; Vocdoni then changes the e-mail
    await imp('email,first_name\nold@split.example,Ann\n');
    await imp('external_id,email,city\nV-1,old@split.example,Oslo\n', 'vocdoni-sandbox');
    await imp('external_id,email\nV-1,new@split.example\n', 'vocdoni-sandbox');
    const member = await db.knex('members').where({ email: 'new@split.example' }).first();
    expect(member).toMatchObject({ first_name: 'Ann', city: 'Oslo' });
    const ref = 'vocdoni-sandbox:ext:V-1';
    await expect(splitMember(member.id, [ref, 'file:canonical:email:old@split.example'], { db: db.knex, config, log: quiet })).rejects.toThrow(/would leave it with none/);
    await expect(splitMember(member.id, ['nope:ext:1'], { db: db.knex, config, log: quiet })).rejects.toThrow(/has no source record nope:ext:1/);

    const dry = await splitMember(member.id, [ref], { db: db.knex, config, log: quiet, dryRun: true });
    expect(dry).toMatchObject({ run_id: null, new_member: { email: 'new@split.example', city: 'Oslo' } });
    expect(await db.knex('source_records').where({ member_id: member.id }).count({ n: '*' }).first()).toEqual({ n: 2 });

    const members = await count('members');
    const split = await splitMember(member.id, [ref], { db: db.knex, config, log: quiet });
    expect(await count('members')).toBe(members + 1);
    expect(await db.knex('members').where({ id: member.id }).first()).toMatchObject({ email: 'old@split.example', first_name: 'Ann', city: null });
    expect(await db.knex('members').where({ id: split.new_member_id }).first()).toMatchObject({ email: 'new@split.example', first_name: null, city: 'Oslo' });
    // the link went with its source record
    expect((await db.knex('member_links').where({ connection: 'vocdoni-sandbox', external_id: 'V-1' }).first()).member_id).toBe(split.new_member_id);
    expect(await db.knex('runs').where({ id: split.run_id }).first()).toMatchObject({ kind: 'split', status: 'succeeded' });
    // both sources change after the split: a revert of it leaves them as they are now
    await imp('external_id,email,member_id\nV-1,new@split.example,MS-1\n', 'vocdoni-sandbox');
    await imp('email,member_id\nold@split.example,MS-2\n');

    const r = await revertRun(split.run_id!, { db: db.knex, log: quiet, config });
    expect(r).toMatchObject({ members_removed: 0 });
    expect(r.fields_skipped).toBeGreaterThan(0);
  });

  it('a split reverted before anything else touched it is undone whole', async () => {
    await imp('email,first_name\nold2@split.example,Bea\n');
    await imp('external_id,email,city\nV-2,old2@split.example,Rome\n', 'vocdoni-sandbox');
    await imp('external_id,email\nV-2,new2@split.example\n', 'vocdoni-sandbox');
    const member = await db.knex('members').where({ email: 'new2@split.example' }).first();
    const members = await count('members');
    const split = await splitMember(member.id, ['vocdoni-sandbox:ext:V-2'], { db: db.knex, config, log: quiet });
    const r = await revertRun(split.run_id!, { db: db.knex, log: quiet, config });
    expect(r).toMatchObject({ members_removed: 1, fields_skipped: 0 });
    expect(await count('members')).toBe(members);
    expect(await db.knex('members').where({ id: member.id }).first()).toMatchObject({ email: 'new2@split.example', first_name: 'Bea', city: 'Rome' });
    expect((await db.knex('source_records').where({ source: 'vocdoni-sandbox', source_key: 'ext:V-2' }).first()).member_id).toBe(member.id);
    expect((await db.knex('member_links').where({ connection: 'vocdoni-sandbox', external_id: 'V-2' }).first()).member_id).toBe(member.id);
  });

  it('refuses a split that would give two members one identity key', async () => {
    await imp('email,first_name\nshared@split.example,Cy\n');
    await imp('external_id,email\nV-3,shared@split.example\n', 'vocdoni-sandbox');
    const member = await db.knex('members').where({ email: 'shared@split.example' }).first();
    await expect(splitMember(member.id, ['vocdoni-sandbox:ext:V-3'], { db: db.knex, config, log: quiet })).rejects.toThrow(/cannot split: email "shared@split.example"/);
  });

});
