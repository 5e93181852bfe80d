/**
 * Erasure (members erase): the person is deleted at connections with push.deletes on (the
 * others listed), their personal data leaves every table — checked on a pg_dump of the
 * whole database — and a tombstone refuses their keys later, unless --allow-erased.
 * Real PostgreSQL, real HTTP to the sandbox's simulators.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { log } from '../../src/log.js';
import { eraseMember } from '../../src/pipeline/erase.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { pushConnection } from '../../src/pipeline/push.js';
import { revertRun } from '../../src/pipeline/revert.js';
import { startSandbox, type Sandbox } from '../../src/server/sandbox.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { csvFile, importCsv } from './push-setup.js';

let sb: Sandbox;
let config: Readonly<Config>;
let db: TestDb;

const P = {
  member_id: 'ERASE-7734',
  cons_id: '99887766',
  email: 'zebulon.quixote@erase.example',
  first: 'Zebulon',
  last: 'Quixotewright',
  newLast: 'Quixotewright-Byrne',
  phone: '+14155550199',
  national: 'XK-5512-ERASE',
};

beforeAll(async () => {
  sb = await startSandbox({ people: 20, seed: 16 });
  const connections = structuredClone(sb.connections) as Record<string, Record<string, unknown>>;
  connections['vocdoni-sandbox'].push = { deletes: true };
  config = loadConfig({ env: { ...process.env, ...sb.env }, overrides: { connections, import: { batchSize: 50 } } });
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
  await sb?.close();
});

/**
 * The whole database as text: pg_dump's. The embedded server of a newcomer's `npm test` is
 * a newer PostgreSQL than the system's pg_dump, which refuses it; then every row of every
 * table, each read as text, is the dump's data part.
 */
async function dump(): Promise<string> {
  const u = new URL(inject('databaseUrl'));
  u.pathname = `/${db.name}`;
  try {
    return execFileSync('pg_dump', ['--no-owner', u.toString()], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (!/server version mismatch/.test(String((err as { stderr?: unknown }).stderr ?? err))) throw err;
  }
  const tables: { s: string; t: string }[] = (await db.knex.raw(`select schemaname as s, tablename as t from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`)).rows;
  let out = '';
  for (const { s: schema, t } of tables) {
    const { rows } = await db.knex.raw(`select x::text as row from ??.?? x`, [schema, t]);
    out += `-- ${schema}.${t}\n` + (rows as { row: string }[]).map((r) => r.row).join('\n') + '\n';
  }
  return out;
}

async function vocdoniSearch(text: string): Promise<unknown[]> {
  const org = (sb.connections['vocdoni-sandbox'].options as { organizationAddress: string }).organizationAddress;
  const res = await fetch(`${sb.simulators.vocdoni.url}/organizations/${org}/members?search=${encodeURIComponent(text)}`, { headers: { authorization: `Bearer ${sb.env.SANDBOX_VOCDONI_TOKEN}` } });
  return ((await res.json()) as { members: unknown[] }).members;
}

describe('members erase', () => {
  let memberId = '';
  const needles: string[] = [];

  it('sets the scene: the person in the store, the change log, a conflict, a reject, two destinations', async () => {
    const head = 'cons_id,member_id,email,first_name,last_name,phone,national_id,birth_date';
    await importCsv(db, config, `${head}\n${P.cons_id},${P.member_id},${P.email},${P.first},${P.last},${P.phone},${P.national},1980-02-03\nC-2,M-2,other@example.org,Other,Person,,,\n`);
    // a change (old and new in the change log), a conflict (the e-mail with another member_id), a reject (a bad date)
    await importCsv(db, config, `${head}\n${P.cons_id},${P.member_id},${P.email},${P.first},${P.newLast},${P.phone},${P.national},1980-02-03\n,ERASE-OTHER,${P.email},${P.first},${P.last},,,\n,,${P.email},${P.first},${P.last},,,31/31/1999\n`);
    const m = await db.knex('members').where({ member_id: P.member_id }).first();
    memberId = m.id;
    expect(await db.knex('conflicts').whereRaw('record::text like ?', [`%${P.email}%`])).toHaveLength(1);
    expect(await db.knex('rejects').whereRaw('raw::text like ?', [`%${P.email}%`])).toHaveLength(1);
    const v = await pushConnection('vocdoni-sandbox', { db: db.knex, config, log });
    expect(v.created).toBe(2);
    const i = await pushConnection('ikanow-sandbox', { db: db.knex, config, log });
    expect(i.created).toBe(2);
    expect(await vocdoniSearch(P.member_id)).toHaveLength(1);
    const remote = await db.knex('push_state').where({ member_id: memberId }).select('remote_id');
    expect(remote).toHaveLength(2);
    // free text that quotes the person: a run's error, a remote's error message about another member
    await db.knex('runs').where({ id: v.run_id }).update({ error: `refused ${P.email} (HTTP 400)` });
    const other = await db.knex('members').where({ member_id: 'M-2' }).first();
    await db.knex('push_errors').insert({ run_id: i.run_id, connection: 'ikanow-sandbox', member_id: other.id, status: 'failed', message: `This primary email address is not unique: ${P.email}` });
    needles.push(P.member_id, P.cons_id, P.email, P.first, P.last, P.newLast, P.phone.slice(2), P.national, ...remote.map((r: { remote_id: string }) => r.remote_id));
    const before = await dump();
    for (const n of needles) expect(before, n).toContain(n);
  });

  it('without --yes says what it would do and changes nothing', async () => {
    const s = await eraseMember(P.email, { db: db.knex, config, log });
    expect(s).toMatchObject({ dry_run: true, delete_at: ['vocdoni-sandbox'], not_deleted: [{ connection: 'ikanow-sandbox', reason: 'push.deletes is off' }] });
    expect((await db.knex('members').where({ id: memberId }).first()).status).toBe('active');
  });

  it('--yes: deleted where deletes are on, the rest listed; a pg_dump holds none of their e-mail, names, phone or ids', async () => {
    const s = await eraseMember(P.email, { db: db.knex, config, log, yes: true });
    expect(s).toMatchObject({ dry_run: false, delete_at: ['vocdoni-sandbox'], not_deleted: [{ connection: 'ikanow-sandbox' }] });
    expect(await vocdoniSearch(P.member_id)).toHaveLength(0);
    const m = await db.knex('members').where({ id: memberId }).first();
    expect(m).toMatchObject({ status: 'erased', email: null, first_name: null, member_id: null });
    const tomb = await db.knex('erasures').where({ member_id: memberId }).first();
    expect(tomb.key_hashes.length).toBeGreaterThanOrEqual(4);
    // the fact of each change stays
    expect((await db.knex('member_changes').where({ member_id: memberId })).length).toBeGreaterThan(0);
    const text = await dump();
    for (const n of needles) expect(text.includes(n), `the dump still holds ${n}`).toBe(false);
    // the other person is untouched
    expect(text).toContain('other@example.org');
    await expect(eraseMember(memberId, { db: db.knex, config, log, yes: true })).rejects.toThrow(/erased already/);
    await expect(revertRun(s.run_id!, { db: db.knex, log, config })).rejects.toThrow(/cannot be reverted/);
  });

  it('a later record with their keys is rejected erased (keeping nothing of it), unless --allow-erased', async () => {
    const head = 'member_id,email,first_name';
    const run = await importCsv(db, config, `${head}\nNEW-1,${P.email},${P.first}\n${P.member_id},,Someone\nNEW-3,fresh@example.org,Fresh\n`);
    const rejects = await db.knex('rejects').where({ run_id: run }).orderBy('line');
    expect(rejects.map((r: { reason: string }) => r.reason)).toEqual(['erased', 'erased']);
    expect(rejects[0].raw).toEqual({});
    const text = await dump();
    for (const n of needles) expect(text.includes(n), `the dump holds ${n} again`).toBe(false);
    const s = await importFile(csvFile(`${head}\nNEW-1,${P.email},${P.first}\n`), { db: db.knex, config, log, allowErased: true });
    expect(s.created).toBe(1);
  });
});
