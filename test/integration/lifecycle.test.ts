/**
 * Member lifecycle (DESIGN.md "Lifecycle"): removals seen at each system's simulator by a
 * complete pull, a pull cut short removing nothing, removeWhen, resurrection, removal by
 * hand (revertable) and by a file's status column; export and push take active members.
 * Real PostgreSQL, real HTTP on loopback; people leave each system by its own delete call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { convioApi } from '../../src/connectors/convio/client.js';
import { connectorFor } from '../../src/connectors/registry.js';
import type { DeleteItem } from '../../src/connectors/types.js';
import { log } from '../../src/log.js';
import { removeByHand } from '../../src/pipeline/lifecycle.js';
import { connectionContext, pullConnection } from '../../src/pipeline/pull.js';
import { pushConnection } from '../../src/pipeline/push.js';
import { revertRun } from '../../src/pipeline/revert.js';
import { startSandbox, type Sandbox } from '../../src/server/sandbox.js';
import { iterateMembers } from '../../src/store/inspect-repo.js';
import type { Member } from '../../src/types.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { importCsv } from './push-setup.js';

let sb: Sandbox;
let config: Readonly<Config>;
const dbs: TestDb[] = [];
async function freshDb(): Promise<TestDb> {
  const db = await createTestDb();
  dbs.push(db);
  return db;
}

function configOf(overrides: Record<string, unknown> = {}): Readonly<Config> {
  const connections = structuredClone(sb.connections) as Record<string, Record<string, Record<string, unknown>>>;
  connections['vocdoni-sandbox'].options.pageSize = 4;
  connections['community-sandbox'].options.pageSize = 10;
  return loadConfig({ env: { ...process.env, ...sb.env }, overrides: { connections, import: { batchSize: 10 }, ...overrides } });
}

beforeAll(async () => {
  sb = await startSandbox({ people: 60, seed: 14 });
  config = configOf();
});
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  await sb?.close();
});

/** The members linked to these remote ids at a connection. */
async function membersOf(db: TestDb, connection: string, ids: string[]) {
  return db.knex('member_links as l').join('members as m', 'm.id', 'l.member_id').where('l.connection', connection).whereIn('l.external_id', ids).select('m.*', 'l.external_id');
}

/** Some remote ids the connection holds now (from its links). */
async function someLinked(db: TestDb, connection: string, n: number): Promise<string[]> {
  return (await db.knex('member_links').where({ connection }).orderBy('external_id').limit(n)).map((r: { external_id: string }) => r.external_id);
}

/** People leave the system through its own delete call (the connector's, against the simulator). */
async function deleteAtSystem(db: TestDb, connection: string, ids: string[]): Promise<void> {
  const ctx = connectionContext(connection, config, log);
  const rows = await membersOf(db, connection, ids);
  const items: DeleteItem[] = rows.map((r: Member & { external_id: string; id: string }) => ({ memberId: r.id, remoteId: r.external_id, member: r }));
  const results = await connectorFor(ctx.config.kind).deleteMembers!(ctx, items);
  expect(results.every((r) => r.success)).toBe(true);
}

async function activeExport(db: TestDb): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of iterateMembers(db.knex, 5000, ['active'])) ids.push(...page.map((m) => m.id));
  return ids;
}

describe('removals seen at the source', () => {
  for (const [connection, label] of [
    ['vocdoni-sandbox', 'Vocdoni members gone from the organization'],
    ['ikanow-sandbox', 'IKANOW people gone from the list'],
    ['community-sandbox', 'community users no longer in the community'],
    ['convio-sandbox', 'Convio constituents no longer in any configured group'],
  ] as const) {
    it(`${label}: a complete pull marks them removed at the source; their members are removed`, async () => {
      const db = await freshDb();
      const first = await pullConnection(connection, { db: db.knex, config, log, full: true });
      expect(first.complete_list).toBe(true);
      expect(first.removed_at_source).toBe(0);
      const gone = await someLinked(db, connection, 2);
      await deleteAtSystem(db, connection, gone);
      const again = await pullConnection(connection, { db: db.knex, config, log, full: true });
      expect(again).toMatchObject({ complete_list: true, removed_at_source: 2, members_removed: 2 });
      const rows = await membersOf(db, connection, gone);
      expect(rows.map((r: { status: string }) => r.status)).toEqual(['removed', 'removed']);
      expect(rows[0].removed_by).toBe(`source:${connection}`);
      expect(rows[0].removed_reason).toContain(`no longer listed by ${connection}`);
      const srs = await db.knex('source_records').where({ source: connection }).whereNotNull('removed_at');
      expect(srs.map((s: { source_key: string }) => s.source_key).sort()).toEqual(gone.map((g) => `ext:${g}`).sort());
      // the change log says so
      const log1 = await db.knex('member_changes').where({ field: 'status', run_id: again.run_id });
      expect(log1).toHaveLength(2);
      expect(log1[0]).toMatchObject({ old: 'active', new: 'removed', source: connection });
      // export selects active members by default; others stay
      const active = await activeExport(db);
      expect(active).not.toContain(rows[0].id);
      const total = Number((await db.knex('members').count('* as n'))[0].n);
      expect(active.length).toBe(total - 2);
      // a third pull finds nothing more gone
      const third = await pullConnection(connection, { db: db.knex, config, log, full: true });
      expect(third).toMatchObject({ removed_at_source: 0, members_removed: 0 });
    });
  }

  it('a pull cut short removes nobody; the pull that resumes it did not read the whole list either', async () => {
    const db = await freshDb();
    await pullConnection('vocdoni-sandbox', { db: db.knex, config, log, full: true });
    const gone = await someLinked(db, 'vocdoni-sandbox', 1);
    await deleteAtSystem(db, 'vocdoni-sandbox', gone);
    const abort = new AbortController();
    let pages = 0;
    await expect(
      pullConnection('vocdoni-sandbox', { db: db.knex, config: configOf({ import: { batchSize: 4 } }), log, full: true, signal: abort.signal, onPage: () => (++pages === 1 ? abort.abort(new Error('cut')) : undefined) }),
    ).rejects.toThrow();
    expect(await db.knex('source_records').whereNotNull('removed_at')).toHaveLength(0);
    const resumed = await pullConnection('vocdoni-sandbox', { db: db.knex, config, log });
    expect(resumed).toMatchObject({ complete_list: false, removed_at_source: 0 });
    expect(await db.knex('members').where({ status: 'removed' })).toHaveLength(0);
    // the next complete one does
    const whole = await pullConnection('vocdoni-sandbox', { db: db.knex, config, log });
    expect(whole).toMatchObject({ complete_list: true, removed_at_source: 1, members_removed: 1 });
  });

  it('all-sources keeps a member another source still lists; any: [connection] removes it; never removes nobody', async () => {
    // person 5 of every ten is in Convio and Vocdoni (the sandbox's spread)
    const both = async (cfg: Readonly<Config>) => {
      const db = await freshDb();
      await pullConnection('convio-sandbox', { db: db.knex, config: cfg, log, full: true });
      await pullConnection('vocdoni-sandbox', { db: db.knex, config: cfg, log, full: true });
      const shared = await db.knex('members as m').whereExists(db.knex('member_links as a').whereRaw('a.member_id = m.id').where('a.connection', 'convio-sandbox')).whereExists(db.knex('member_links as b').whereRaw('b.member_id = m.id').where('b.connection', 'vocdoni-sandbox')).first('m.id');
      expect(shared).toBeDefined();
      const ext = (await db.knex('member_links').where({ member_id: shared.id, connection: 'vocdoni-sandbox' }).first()).external_id as string;
      return { db, id: shared.id as string, ext };
    };
    const a = await both(config);
    await deleteAtSystem(a.db, 'vocdoni-sandbox', [a.ext]);
    const sa = await pullConnection('vocdoni-sandbox', { db: a.db.knex, config, log, full: true });
    expect(sa).toMatchObject({ removed_at_source: 1, members_removed: 0 });
    expect((await a.db.knex('members').where({ id: a.id }).first()).status).toBe('active');

    const anyCfg = configOf({ lifecycle: { removeWhen: { any: ['vocdoni-sandbox'] } } });
    const b = await both(anyCfg);
    expect(await b.db.knex('member_links').where({ member_id: b.id, connection: 'vocdoni-sandbox' })).toHaveLength(1);
    await deleteAtSystem(b.db, 'vocdoni-sandbox', [b.ext]);
    const sb2 = await pullConnection('vocdoni-sandbox', { db: b.db.knex, config: anyCfg, log, full: true });
    expect(sb2).toMatchObject({ members_removed: 1 });
    expect((await b.db.knex('members').where({ id: b.id }).first()).status).toBe('removed');

    const neverCfg = configOf({ lifecycle: { removeWhen: 'never' } });
    const db = await freshDb();
    await pullConnection('ikanow-sandbox', { db: db.knex, config: neverCfg, log, full: true });
    const gone = await someLinked(db, 'ikanow-sandbox', 1);
    await deleteAtSystem(db, 'ikanow-sandbox', gone);
    const sn = await pullConnection('ikanow-sandbox', { db: db.knex, config: neverCfg, log, full: true });
    expect(sn).toMatchObject({ removed_at_source: 1, members_removed: 0 });
  });

  it('revert of the pull that removed members makes them active again and their records listed', async () => {
    const db = await freshDb();
    await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true });
    const gone = await someLinked(db, 'ikanow-sandbox', 1);
    await deleteAtSystem(db, 'ikanow-sandbox', gone);
    const s = await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true });
    expect(s.members_removed).toBe(1);
    const r = await revertRun(s.run_id!, { db: db.knex, log, config });
    expect(r.statuses_restored).toBe(1);
    expect(await db.knex('members').where({ status: 'removed' })).toHaveLength(0);
    expect(await db.knex('source_records').whereNotNull('removed_at')).toHaveLength(0);
    // and the revert is in the change log
    expect(await db.knex('member_changes').where({ run_id: r.run_id, field: 'status' }).select('old', 'new')).toEqual([{ old: 'removed', new: 'active' }]);
  });

  it('a member from before source records (migrated) is removed once its real sources are', async () => {
    const db = await freshDb();
    await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true });
    const [ext] = await someLinked(db, 'ikanow-sandbox', 1);
    const [row] = await membersOf(db, 'ikanow-sandbox', [ext]);
    await db.knex('source_records').insert({ source: 'migrated', source_key: `member:${row.id}`, member_id: row.id, values: JSON.stringify({ email: row.email }), stamps: '{}', hash: '', first_run_id: 0, last_run_id: 0 });
    await deleteAtSystem(db, 'ikanow-sandbox', [ext]);
    expect(await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true })).toMatchObject({ members_removed: 1 });
  });

  it('lifecycle.removeWhen names an unknown connection: the config fails naming the key', () => {
    expect(() => configOf({ lifecycle: { removeWhen: { any: ['nope'] } } })).toThrow(/lifecycle\.removeWhen\.any\.0.*unknown connection 'nope'/);
    expect(() => configOf({ lifecycle: { removeWhen: 'sometimes' } })).toThrow(/lifecycle\.removeWhen/);
  });
});

describe('resurrection, removal by hand and by file', () => {
  it('a removed member a source sends again is active again, in the change log', async () => {
    const db = await freshDb();
    await pullConnection('vocdoni-sandbox', { db: db.knex, config, log, full: true });
    const [ext] = await someLinked(db, 'vocdoni-sandbox', 1);
    const [row] = await membersOf(db, 'vocdoni-sandbox', [ext]);
    await deleteAtSystem(db, 'vocdoni-sandbox', [ext]);
    await pullConnection('vocdoni-sandbox', { db: db.knex, config, log, full: true });
    expect((await db.knex('members').where({ id: row.id }).first()).status).toBe('removed');
    // the organization adds them again (a new Vocdoni id, the same memberNumber)
    const sim = sb.simulators.vocdoni.url;
    const org = (sb.connections['vocdoni-sandbox'].options as { organizationAddress: string }).organizationAddress;
    const res = await fetch(`${sim}/organizations/${org}/members`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sb.env.SANDBOX_VOCDONI_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ members: [{ memberNumber: row.member_id, name: row.first_name, surname: row.last_name }] }),
    });
    expect(res.status).toBe(200);
    const back = await pullConnection('vocdoni-sandbox', { db: db.knex, config, log, full: true });
    const m = await db.knex('members').where({ id: row.id }).first();
    expect(m).toMatchObject({ status: 'active', removed_at: null, removed_by: null });
    const changes = await db.knex('member_changes').where({ member_id: row.id, field: 'status' }).orderBy('id');
    expect(changes.map((c: { old: string; new: string }) => `${c.old}->${c.new}`)).toEqual(['active->removed', 'removed->active']);
    expect(Number(changes[1].run_id)).toBe(back.run_id);
  });

  it('a Convio constituent put back in the group comes back unchanged (the seen shortcut): active again', async () => {
    const db = await freshDb();
    await pullConnection('convio-sandbox', { db: db.knex, config, log, full: true });
    const [ext] = await someLinked(db, 'convio-sandbox', 1);
    const [row] = await membersOf(db, 'convio-sandbox', [ext]);
    await deleteAtSystem(db, 'convio-sandbox', [ext]);
    expect(await pullConnection('convio-sandbox', { db: db.knex, config, log, full: true })).toMatchObject({ members_removed: 1 });
    await convioApi(connectionContext('convio-sandbox', config, log)).update({ cons_id: ext }, { add_group_ids: '1001' });
    const back = await pullConnection('convio-sandbox', { db: db.knex, config, log, full: true });
    expect(back).toMatchObject({ created: 0, updated: 0, removed_at_source: 0 });
    expect((await db.knex('members').where({ id: row.id }).first()).status).toBe('active');
    expect(await db.knex('source_records').whereNotNull('removed_at')).toHaveLength(0);
  });

  it('members remove by hand: not exported nor pushed; revert makes it active again; the same source sending it unchanged does not', async () => {
    const db = await freshDb();
    await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true });
    const [ext] = await someLinked(db, 'ikanow-sandbox', 1);
    const [row] = await membersOf(db, 'ikanow-sandbox', [ext]);
    const s = await removeByHand(row.email, { db: db.knex, config, log, reason: 'asked to leave' });
    expect(s.run_id).toBeGreaterThan(0);
    const m = await db.knex('members').where({ id: row.id }).first();
    expect(m).toMatchObject({ status: 'removed', removed_reason: 'asked to leave' });
    expect(m.removed_by).toMatch(/^hand/);
    await expect(removeByHand(row.email, { db: db.knex, config, log })).rejects.toThrow(/removed already/);
    // the source still lists the person unchanged: that is not sending them again
    await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true });
    expect((await db.knex('members').where({ id: row.id }).first()).status).toBe('removed');
    expect(await activeExport(db)).not.toContain(row.id);
    // push selects active members only: the removed one is not sent to WeVote
    const push = await pushConnection('wevote-sandbox', { db: db.knex, config, log, dryRun: true, onPlan: () => undefined });
    const active = (await activeExport(db)).length;
    expect(push.selected + push.unchanged).toBe(active);
    const r = await revertRun(s.run_id!, { db: db.knex, log, config });
    expect(r.statuses_restored).toBe(1);
    expect((await db.knex('members').where({ id: row.id }).first())).toMatchObject({ status: 'active', removed_at: null });
  });

  it("a file's status column removes and brings back; an unknown status is rejected", async () => {
    const db = await freshDb();
    await importCsv(db, config, 'member_id,email,first_name,status\nS-1,s1@example.org,Ana,\nS-2,s2@example.org,Ben,active\n');
    const run = await importCsv(db, config, 'member_id,email,first_name,status\nS-1,s1@example.org,Ana,removed\nS-2,s2@example.org,Ben,Gone\n');
    const s1 = await db.knex('members').where({ member_id: 'S-1' }).first();
    expect(s1).toMatchObject({ status: 'removed', removed_by: 'file:canonical' });
    const rej = await db.knex('rejects').where({ run_id: run });
    expect(rej).toHaveLength(1);
    expect(rej[0].reason).toMatch(/status: expected active or removed/);
    await importCsv(db, config, 'member_id,email,first_name,status\nS-1,s1@example.org,Ana,active\n');
    expect((await db.knex('members').where({ member_id: 'S-1' }).first()).status).toBe('active');
  });
});
