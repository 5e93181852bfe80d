/**
 * Migration 009 on a store written before it: conflicts keep their history — a resolved
 * one stays resolved, each run's refusals are counted — and the open conflicts one record
 * got on every run collapse into the first, seen as often as it was refused.
 */
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { migrationSource } from '../../src/store/migrations/index.js';

let admin: Knex;
let db: Knex;
const name = `ms_test_${randomBytes(6).toString('hex')}`;

beforeAll(async () => {
  const url = inject('databaseUrl');
  admin = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  db = knexFactory({ client: 'pg', connection: u.toString(), pool: { min: 0, max: 2 } });
});
afterAll(async () => {
  await db?.destroy();
  await admin?.raw(`drop database if exists ${name} with (force)`);
  await admin?.destroy();
});

const cfg = { migrationSource, tableName: 'knex_migrations' };

describe('migration 009 (the conflict queue)', () => {
  it('collapses the open conflicts of one record and reason, and keeps the rest as they were', async () => {
    while (!(await db.migrate.list(cfg))[1].every((m: string) => m >= '009')) await db.migrate.up(cfg);
    const rec = (cons: string, mid: string) => JSON.stringify({ values: { cons_id: cons, member_id: mid }, raw: {} });
    const uuid = '01a233ab-0000-7000-8000-000000000001';
    await db('conflicts').insert([
      { run_id: 1, source: 'file:a', source_ref: 'line 2', reason: 'member_id_mismatch', candidate_ids: [uuid], record: rec('C1', 'M2') },
      { run_id: 2, source: 'file:a', source_ref: 'line 5', reason: 'member_id_mismatch', candidate_ids: [uuid], record: rec('C1', 'M2') },
      { run_id: 3, source: 'file:a', source_ref: 'line 7', reason: 'member_id_mismatch', candidate_ids: [uuid], record: rec('C1', 'M3') },
      { run_id: 3, source: 'vocdoni-main', source_ref: 'id 17', reason: 'cons_id_mismatch', candidate_ids: [uuid], record: rec('C9', '') },
      { run_id: 4, source: 'file:a', source_ref: 'line 9', reason: 'member_id_mismatch', candidate_ids: [uuid], record: rec('C1', 'M2'), resolved_at: new Date() },
    ]);
    await db.migrate.up(cfg);
    // a bare knex: bigints come as text
    const num = <T extends Record<string, unknown>>(r: T, ...keys: string[]) => ({ ...r, ...Object.fromEntries(keys.map((k) => [k, Number(r[k])])) });
    const rows = (await db('conflicts').orderBy('id').select('id', 'run_id', 'last_run_id', 'source_key', 'state', 'times_seen', 'source_ref', 'record')).map((r) => num(r, 'id', 'run_id', 'last_run_id'));
    expect(rows).toMatchObject([
      { id: 1, run_id: 1, last_run_id: 3, source_key: 'cons_id:C1', state: 'open', times_seen: 3, source_ref: 'line 7', record: { values: { member_id: 'M3' } } },
      { id: 4, run_id: 3, last_run_id: 3, source_key: 'ext:17', state: 'open', times_seen: 1 },
      { id: 5, run_id: 4, source_key: 'cons_id:C1', state: 'resolved', times_seen: 1 },
    ]);
    const seen = (await db('conflict_sightings').orderBy(['conflict_id', 'run_id']).select('conflict_id', 'run_id', 'times')).map((r) => num(r, 'conflict_id', 'run_id'));
    expect(seen).toEqual([
      { conflict_id: 1, run_id: 1, times: 1 },
      { conflict_id: 1, run_id: 2, times: 1 },
      { conflict_id: 1, run_id: 3, times: 1 },
      { conflict_id: 4, run_id: 3, times: 1 },
      { conflict_id: 5, run_id: 4, times: 1 },
    ]);
    // and down again
    await db.migrate.down(cfg);
    expect(await db.schema.hasTable('conflict_sightings')).toBe(false);
    expect(await db.schema.hasColumn('conflicts', 'state')).toBe(false);
  });
});
