/**
 * Propagation of removals (push.deletes): each system's own delete call against its
 * simulator, the plan of a dry run, and the mass-delete guard. Real PostgreSQL, real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { voterUpdate, wevoteClient, wevoteCredentials } from '../../src/connectors/wevote/client.js';
import { log } from '../../src/log.js';
import { removeByHand } from '../../src/pipeline/lifecycle.js';
import { revertRun } from '../../src/pipeline/revert.js';
import { connectionContext, pullConnection } from '../../src/pipeline/pull.js';
import { pushConnection, type PlanEntry } from '../../src/pipeline/push.js';
import { startSandbox, type Sandbox } from '../../src/server/sandbox.js';
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

function configOf(push: Record<string, unknown> = { deletes: true }): Readonly<Config> {
  const connections = structuredClone(sb.connections) as Record<string, Record<string, unknown>>;
  for (const c of Object.values(connections)) c.push = push;
  return loadConfig({ env: { ...process.env, ...sb.env }, overrides: { connections, import: { batchSize: 50 } } });
}

beforeAll(async () => {
  sb = await startSandbox({ people: 80, seed: 15 });
  config = configOf();
});
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
  await sb?.close();
});

async function linkedMembers(db: TestDb, connection: string, n: number): Promise<{ id: string; external_id: string; email: string | null }[]> {
  return db.knex('member_links as l').join('members as m', 'm.id', 'l.member_id').where('l.connection', connection).orderBy('l.external_id').limit(n).select('m.id', 'm.email', 'l.external_id');
}

describe('push.deletes', () => {
  for (const connection of ['vocdoni-sandbox', 'ikanow-sandbox', 'community-sandbox', 'convio-sandbox'] as const) {
    it(`${connection}: a removed member is deleted there by the system's own call (the dry run lists it first); the next pull no longer sees it`, async () => {
      const db = await freshDb();
      await pullConnection(connection, { db: db.knex, config, log, full: true });
      const [m] = await linkedMembers(db, connection, 1);
      await removeByHand(m.id, { db: db.knex, config, log, reason: 'left' });
      const plan: PlanEntry[] = [];
      const dry = await pushConnection(connection, { db: db.knex, config, log, dryRun: true, onPlan: (e) => plan.push(e) });
      expect(dry.deleted).toBe(1);
      expect(plan.filter((e) => e.action === 'delete')).toEqual([expect.objectContaining({ member_id: m.id, remote_id: m.external_id, reason: 'removed' })]);
      const s = await pushConnection(connection, { db: db.knex, config, log });
      expect(s).toMatchObject({ deleted: 1, delete_failed: 0 });
      expect(s.error).toBeUndefined();
      expect((await db.knex('push_state').where({ connection, member_id: m.id }).first()).status).toBe('deleted');
      // deleted once: the next push has nothing to delete
      expect((await pushConnection(connection, { db: db.knex, config, log })).deleted).toBe(0);
      // the system no longer lists the person: a complete pull finds their record gone
      const again = await pullConnection(connection, { db: db.knex, config, log, full: true });
      expect(again.removed_at_source).toBe(1);
      const sr = await db.knex('source_records').where({ source: connection, source_key: `ext:${m.external_id}` }).first();
      expect(sr.removed_at).not.toBeNull();
    });
  }

  it('a member deleted at Vocdoni and active again (its removal reverted) is added there again by the next push', async () => {
    const db = await freshDb();
    await pullConnection('vocdoni-sandbox', { db: db.knex, config, log, full: true });
    const [m] = await linkedMembers(db, 'vocdoni-sandbox', 1);
    const member = await db.knex('members').where({ id: m.id }).first();
    const removed = await removeByHand(m.id, { db: db.knex, config, log });
    expect((await pushConnection('vocdoni-sandbox', { db: db.knex, config, log })).deleted).toBe(1);
    // the Vocdoni id is gone with the record: no link, no remote id
    expect(await db.knex('member_links').where({ member_id: m.id, connection: 'vocdoni-sandbox' })).toHaveLength(0);
    expect((await db.knex('push_state').where({ member_id: m.id, connection: 'vocdoni-sandbox' }).first()).remote_id).toBeNull();
    await revertRun(removed.run_id!, { db: db.knex, log, config });
    const back = await pushConnection('vocdoni-sandbox', { db: db.knex, config, log });
    expect(back).toMatchObject({ created: 1, deleted: 0 });
    const org = (sb.connections['vocdoni-sandbox'].options as { organizationAddress: string }).organizationAddress;
    const res = await fetch(`${sb.simulators.vocdoni.url}/organizations/${org}/members?search=${encodeURIComponent(member.member_id)}`, { headers: { authorization: `Bearer ${sb.env.SANDBOX_VOCDONI_TOKEN}` } });
    const found = ((await res.json()) as { members: { id: string; memberNumber: string }[] }).members.filter((x) => x.memberNumber === member.member_id);
    expect(found).toHaveLength(1);
    expect(found[0].id).not.toBe(m.external_id);
  });

  it('wevote-sandbox: a removed voter is deleted with delete_voter_account', async () => {
    const db = await freshDb();
    await importCsv(db, config, 'member_id,email,first_name,last_name\nW-1,w1@example.org,Wen,One\nW-2,w2@example.org,Wil,Two\n');
    const first = await pushConnection('wevote-sandbox', { db: db.knex, config, log });
    expect(first.created + first.updated).toBe(2);
    const m = await db.knex('members').where({ member_id: 'W-1' }).first();
    await removeByHand('W-1', { db: db.knex, config, log });
    const s = await pushConnection('wevote-sandbox', { db: db.knex, config, log });
    expect(s).toMatchObject({ deleted: 1, delete_failed: 0, selected: 0 });
    const ctx = connectionContext('wevote-sandbox', config, log);
    // the voter is no longer found by the management key and e-mail
    await expect(voterUpdate(wevoteClient(ctx), wevoteCredentials(ctx), { email_address: m.email, first_name: 'X', first_name_changed: 'true' })).rejects.toThrow(/VOTER_NOT_FOUND/);
  });

  it('push.deletes off (the default): removed members are neither deleted nor sent', async () => {
    const off = configOf({ deletes: false });
    const db = await freshDb();
    await pullConnection('vocdoni-sandbox', { db: db.knex, config: off, log, full: true });
    const [m] = await linkedMembers(db, 'vocdoni-sandbox', 1);
    await removeByHand(m.id, { db: db.knex, config: off, log });
    const s = await pushConnection('vocdoni-sandbox', { db: db.knex, config: off, log });
    expect(s.deleted).toBe(0);
    const again = await pullConnection('vocdoni-sandbox', { db: db.knex, config: off, log, full: true });
    expect(again.removed_at_source).toBe(0);
  });

  it('the mass-delete guard: more than maxDeletes fails the push with the reason and deletes nothing; --allow-mass-delete deletes them', async () => {
    const db = await freshDb();
    await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true });
    const people = await linkedMembers(db, 'ikanow-sandbox', 12);
    expect(people.length).toBe(12);
    // an "empty export": every one of them removed at once
    for (const p of people) await removeByHand(p.id, { db: db.knex, config, log });
    const s = await pushConnection('ikanow-sandbox', { db: db.knex, config, log });
    expect(s.deleted).toBe(0);
    expect(s.error).toMatch(/12 deletes planned at ikanow-sandbox, more than push\.maxDeletes \(10: 5% of the \d+ people it holds, at least 10\); nothing was deleted or sent/);
    const run = await db.knex('runs').where({ id: s.run_id }).first();
    expect(run.status).toBe('failed');
    expect(await db.knex('push_state').where({ connection: 'ikanow-sandbox', status: 'deleted' })).toHaveLength(0);
    const still = await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true });
    expect(still.removed_at_source).toBe(0);
    // an explicit maxDeletes, and --allow-mass-delete
    const strict = configOf({ deletes: true, maxDeletes: 2 });
    expect((await pushConnection('ikanow-sandbox', { db: db.knex, config: strict, log })).error).toMatch(/more than push\.maxDeletes 2;/);
    const ok = await pushConnection('ikanow-sandbox', { db: db.knex, config, log, allowMassDelete: true });
    expect(ok).toMatchObject({ deleted: 12, delete_failed: 0 });
    expect(ok.error).toBeUndefined();
    const gone = await pullConnection('ikanow-sandbox', { db: db.knex, config, log, full: true });
    expect(gone.removed_at_source).toBe(12);
  });
});
