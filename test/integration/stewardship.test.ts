/**
 * Issue 13, stewardship, on a real PostgreSQL (and the sandbox's WeVote on loopback for
 * the push after a merge). Each finding of the issue fails on the code before it:
 * - the same refused record was inserted as a new conflict every run (now: one open
 *   conflict, times_seen 2, last run the second);
 * - no command resolved a conflict and `resolved_at` was never written (now
 *   resolveConflict, each way, writes state, resolved_by, resolution and resolved_at);
 * and merge and resolve are runs that `revert` undoes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { mergeMembers } from '../../src/pipeline/merge-members.js';
import { pushConnection } from '../../src/pipeline/push.js';
import { resolveConflict } from '../../src/pipeline/resolve.js';
import { revertRun } from '../../src/pipeline/revert.js';
import { startSandbox, type Sandbox } from '../../src/server/sandbox.js';
import { mergedInto } from '../../src/store/conflicts-repo.js';
import { expectBalanced } from '../helpers/accounting.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { csvFile } from './push-setup.js';

const quiet = log.child({}, { level: 'fatal' });
let sb: Sandbox;
let db: TestDb;
let config: ReturnType<typeof loadConfig>;

beforeAll(async () => {
  sb = await startSandbox({ people: 4, seed: 13 });
  db = await createTestDb();
  config = loadConfig({ env: { ...process.env, ...sb.env }, overrides: { connections: sb.connections } });
});
afterAll(async () => {
  await db?.drop();
  await sb?.close();
});
beforeEach(async () => {
  await db.knex.raw(
    'truncate members, source_records, source_record_history, ingest_batches, member_links, member_changes, conflicts, rejects, imported_files, checkpoints, push_state, runs, merged_members restart identity cascade',
  );
});

const opts = () => ({ db: db.knex, config, log: quiet, by: 'test' });
const imp = async (content: string, more: { source?: string; connection?: string } = {}) => {
  const s = await importFile(csvFile(content), { db: db.knex, config, log: quiet, force: true, ...more });
  await expectBalanced(db.knex, s);
  return s;
};
const member = (where: Record<string, string>) => db.knex('members').where(where).first();
const conflicts = () => db.knex('conflicts').orderBy('id');

describe('the conflict queue', () => {
  it('the same record refused in two runs is one open conflict, seen twice, with its source key and fingerprint', async () => {
    await imp('cons_id,member_id,email\nC1,M1,ana@x.org\n', { source: 'a' });
    const first = await imp('cons_id,member_id,email\nC1,M2,ana2@x.org\n', { source: 'b' });
    const second = await imp('cons_id,member_id,email\nC1,M2,ana2@x.org\n', { source: 'b' });
    expect(first.conflicts).toBe(1);
    expect(second.conflicts).toBe(1);
    const rows = await conflicts();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'open', times_seen: 2, run_id: first.run_id, last_run_id: second.run_id, source: 'file:b', source_key: 'cons_id:C1', reason: 'member_id_mismatch' });
    expect(rows[0].fp).toMatch(/^[0-9a-f]{16,}$/);
    // both runs list it
    expect(await db.knex('conflict_sightings').where({ conflict_id: rows[0].id }).orderBy('run_id').pluck('run_id')).toEqual([first.run_id, second.run_id]);
  });

  it('one file refusing the same record twice keeps one conflict seen twice; the run still balances', async () => {
    await imp('cons_id,member_id\nC5,M5\n', { source: 'a' });
    const s = await imp('cons_id,member_id\nC5,M6\nC5,M6\n', { source: 'b' });
    expect(s.conflicts).toBe(2);
    expect(await conflicts()).toMatchObject([{ times_seen: 2 }]);
  });

  it('an ignored conflict stays ignored while the same record comes again; a changed record opens it again', async () => {
    await imp('cons_id,member_id\nC7,M7\n', { source: 'a' });
    await imp('cons_id,member_id\nC7,M8\n', { source: 'b' });
    const [c] = await conflicts();
    const s = await resolveConflict(Number(c.id), { ignore: true }, opts());
    expect(s).toMatchObject({ state: 'ignored', run_id: null });
    const ignored = await db.knex('conflicts').where({ id: c.id }).first();
    expect(ignored).toMatchObject({ state: 'ignored', resolved_by: 'test', resolution: { action: 'ignore' } });
    expect(ignored.resolved_at).toBeInstanceOf(Date);
    await imp('cons_id,member_id\nC7,M8\n', { source: 'b' });
    expect(await conflicts()).toMatchObject([{ id: c.id, state: 'ignored', times_seen: 2 }]);
    await imp('cons_id,member_id,first_name\nC7,M8,Changed\n', { source: 'b' });
    expect(await conflicts()).toMatchObject([{ id: c.id, state: 'open', times_seen: 3, resolved_at: null }]);
  });
});

describe('conflicts resolve', () => {
  it('--merge-into applies the record to that member, the guard overridden; the same record is then unchanged; revert undoes it', async () => {
    await imp('cons_id,member_id,email,first_name\nC1,M1,ana@x.org,Ana\n', { source: 'a' });
    await imp('cons_id,member_id,email,city\nC1,M2,ana@x.org,Lima\n', { source: 'b' });
    const a = await member({ cons_id: 'C1' });
    const [c] = await conflicts();
    const s = await resolveConflict(Number(c.id), { mergeInto: 'C1' }, opts());
    expect(s).toMatchObject({ state: 'resolved', member_id: a.id, created: false });
    expect(await member({ id: a.id })).toMatchObject({ cons_id: 'C1', member_id: 'M2', city: 'Lima', first_name: 'Ana' });
    const closed = await db.knex('conflicts').where({ id: c.id }).first();
    expect(closed).toMatchObject({ state: 'resolved', resolved_by: 'test', resolve_run_id: s.run_id, resolution: { action: 'merge_into', member_id: a.id } });
    expect(closed.resolved_at).toBeInstanceOf(Date);
    expect(await db.knex('runs').where({ id: s.run_id }).first()).toMatchObject({ kind: 'resolve', status: 'succeeded' });
    expect(await db.knex('source_records').where({ source: 'file:b', source_key: 'cons_id:C1' }).first()).toMatchObject({ member_id: a.id, first_run_id: s.run_id });
    // resolving it again is refused: it is closed
    await expect(resolveConflict(Number(c.id), { newMember: true }, opts())).rejects.toThrow(/is resolved already \(by test at/);
    // the same record sent again is unchanged, not refused again
    const again = await imp('cons_id,member_id,email,city\nC1,M2,ana@x.org,Lima\n', { source: 'b' });
    expect(again).toMatchObject({ conflicts: 0, unchanged: 1 });
    const r = await revertRun(s.run_id!, { db: db.knex, log: quiet, config });
    expect(r.members_removed).toBe(0);
    expect(await member({ id: a.id })).toMatchObject({ member_id: 'M1', city: null });
    expect(await db.knex('source_records').where({ source: 'file:b' }).count({ n: '*' }).first()).toEqual({ n: 0 });
    // the conflict stays closed; the record, refused again, opens a new one
    await imp('cons_id,member_id,email,city\nC1,M2,ana@x.org,Lima\n', { source: 'b' });
    expect(await db.knex('conflicts').orderBy('id').select('id', 'state')).toEqual([{ id: c.id, state: 'resolved' }, { id: expect.any(Number), state: 'open' }]);
  });

  it('--merge-into still refuses a key another member holds, naming it', async () => {
    await imp('cons_id,member_id,email\nC1,M1,ana@x.org\nC2,M9,bob@x.org\n', { source: 'a' });
    await imp('cons_id,member_id,email\nC1,M2,bob@x.org\n', { source: 'b' });
    const bob = await member({ cons_id: 'C2' });
    const [c] = await conflicts();
    const before = await db.knex('members').orderBy('id');
    await expect(resolveConflict(Number(c.id), { mergeInto: 'C1' }, opts())).rejects.toThrow(`email "bob@x.org" is held by member ${bob.id}`);
    expect(await db.knex('members').orderBy('id')).toEqual(before);
    expect((await db.knex('conflicts').where({ id: c.id }).first()).state).toBe('open');
    expect(await db.knex('runs').where({ kind: 'resolve' }).first()).toMatchObject({ status: 'failed' });
  });

  it('--new-member moves a linked record to a member of its own; revert puts it back', async () => {
    await imp('cons_id,email,first_name\nC1,ana@x.org,Ana\n', { source: 'a' });
    await imp('external_id,email\nV-1,ana@x.org\n', { connection: 'vocdoni-sandbox' });
    const a = await member({ cons_id: 'C1' });
    expect(await db.knex('source_records').where({ member_id: a.id }).count({ n: '*' }).first()).toEqual({ n: 2 });
    // the Vocdoni record now says it is someone else
    await imp('external_id,cons_id,email,first_name\nV-1,C9,vic@x.org,Vic\n', { connection: 'vocdoni-sandbox' });
    const [c] = await conflicts();
    expect(c).toMatchObject({ reason: 'cons_id_mismatch', source_key: 'ext:V-1', candidate_ids: [a.id] });
    const s = await resolveConflict(Number(c.id), { newMember: true }, opts());
    expect(s.created).toBe(true);
    expect(await member({ id: s.member_id! })).toMatchObject({ cons_id: 'C9', email: 'vic@x.org', first_name: 'Vic', created_run_id: s.run_id });
    expect(await member({ id: a.id })).toMatchObject({ cons_id: 'C1', email: 'ana@x.org', first_name: 'Ana' });
    expect((await db.knex('member_links').where({ connection: 'vocdoni-sandbox', external_id: 'V-1' }).first()).member_id).toBe(s.member_id);
    const r = await revertRun(s.run_id!, { db: db.knex, log: quiet, config });
    expect(r.members_removed).toBe(1);
    expect(await member({ id: s.member_id! })).toBeUndefined();
    expect((await db.knex('member_links').where({ connection: 'vocdoni-sandbox', external_id: 'V-1' }).first()).member_id).toBe(a.id);
  });
});

describe('members merge', () => {
  it('one member absorbs the other; the absorbed id says where it went; the push updates the survivor and lists the other; revert brings it back', async () => {
    await imp('member_id,email,first_name\nM1,ana@x.org,Ana\n', { source: 'a' });
    await imp('external_id,email,city\nV-1,ana.g@x.org,Lima\n', { connection: 'vocdoni-sandbox' });
    const a = await member({ member_id: 'M1' });
    const b = await member({ email: 'ana.g@x.org' });
    const pushed = await pushConnection('wevote-sandbox', { db: db.knex, config, log: quiet });
    expect(pushed.created).toBe(2);
    const s = await mergeMembers('M1', b.id, opts());
    expect(s).toMatchObject({ member_id: a.id, absorbed_id: b.id, moved: ['vocdoni-sandbox:ext:V-1'] });
    expect(s.left_remote).toEqual([{ connection: 'wevote-sandbox', remote_id: expect.any(String) }]);
    expect(await member({ id: b.id })).toBeUndefined();
    expect(await member({ id: a.id })).toMatchObject({ member_id: 'M1', first_name: 'Ana', city: 'Lima' });
    expect((await db.knex('member_links').where({ connection: 'vocdoni-sandbox', external_id: 'V-1' }).first()).member_id).toBe(a.id);
    expect(await mergedInto(db.knex, b.id)).toEqual({ into_id: a.id, run_id: s.run_id });
    const run = await db.knex('runs').where({ id: s.run_id }).first();
    expect(run).toMatchObject({ kind: 'merge', status: 'succeeded', details: { left_remote: s.left_remote } });
    expect(await db.knex('push_state').where({ member_id: b.id }).count({ n: '*' }).first()).toEqual({ n: 0 });
    const next = await pushConnection('wevote-sandbox', { db: db.knex, config, log: quiet });
    expect(next).toMatchObject({ created: 0, updated: 1 });

    const r = await revertRun(s.run_id!, { db: db.knex, log: quiet, config });
    expect(r.members_removed).toBe(0);
    expect(await member({ id: b.id })).toMatchObject({ email: 'ana.g@x.org', city: 'Lima' });
    expect(await member({ id: a.id })).toMatchObject({ member_id: 'M1', email: 'ana@x.org', city: null });
    expect((await db.knex('member_links').where({ connection: 'vocdoni-sandbox', external_id: 'V-1' }).first()).member_id).toBe(b.id);
  });

  it('refuses to merge a member into itself', async () => {
    await imp('member_id,email\nM1,ana@x.org\n', { source: 'a' });
    await expect(mergeMembers('M1', 'ana@x.org', opts())).rejects.toThrow(/are the same member/);
  });
});
