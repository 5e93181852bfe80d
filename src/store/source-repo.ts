/**
 * Source records in the store (migration 006): read by key or member, written with one
 * statement per kind of write per batch, their earlier state kept in
 * `source_record_history` for revert and split.
 */
import type { Knex } from 'knex';
import type { SourceWrite } from '../members/decide-batch.js';
import type { SourceRecord } from '../members/source-record.js';
import { asJson, copyRows } from './copy.js';

type Db = Knex | Knex.Transaction;

// PostgreSQL text and jsonb refuse NUL; a NUL that reached here is kept visibly.
const json = (v: unknown) => JSON.stringify(v).replace(/\\u0000/g, '\\ufffd');

export function rowToSource(r: Record<string, unknown>): SourceRecord {
  return {
    id: Number(r.id),
    source: r.source as string,
    key: r.source_key as string,
    memberId: r.member_id as string,
    values: (r.values ?? {}) as SourceRecord['values'],
    stamps: (r.stamps ?? {}) as Record<string, number>,
    hash: r.hash as string,
    firstRunId: Number(r.first_run_id),
    lastRunId: Number(r.last_run_id),
  };
}

/** The source records of these keys at `source`: the fingerprint each holds, its id and member. */
export async function sourceHashes(db: Db, source: string, keys: string[]): Promise<Map<string, { hash: string; id: number; memberId: string }>> {
  const out = new Map<string, { hash: string; id: number; memberId: string }>();
  if (keys.length === 0) return out;
  // a join on the keys, not `source_key = any(...)`: right after a bulk load the planner's
  // statistics say a source has few records, and it then scans all of them and filters
  const { rows } = await db.raw(
    `select s.source_key, s.hash, s.id, s.member_id from unnest(?::text[]) as k(key) join source_records s on s.source = ? and s.source_key = k.key`,
    [keys, source],
  );
  for (const r of rows as { source_key: string; hash: string; id: number; member_id: string }[]) out.set(r.source_key, { hash: r.hash, id: Number(r.id), memberId: r.member_id });
  return out;
}

export async function sourcesOfMembers(db: Db, memberIds: string[]): Promise<SourceRecord[]> {
  if (memberIds.length === 0) return [];
  const { rows } = await db.raw(`select s.* from unnest(?::uuid[]) as k(id) join source_records s on s.member_id = k.id order by s.id`, [memberIds]);
  return (rows as Record<string, unknown>[]).map(rowToSource);
}

/** Write a batch's source records: new ones by COPY, changed ones by one update, the state before into history. */
export async function writeSources(trx: Knex.Transaction, writes: Iterable<SourceWrite>, runId: number): Promise<void> {
  const fresh: SourceWrite[] = [];
  const changed: SourceWrite[] = [];
  for (const w of writes) (w.before ? changed : fresh).push(w);
  if (fresh.length > 0) {
    await copyRows(
      trx,
      'source_records',
      ['source', 'source_key', 'member_id', 'values', 'stamps', 'hash', 'first_run_id', 'last_run_id'],
      fresh.map(({ sr }) => [sr.source, sr.key, sr.memberId, asJson(sr.values), asJson(sr.stamps), sr.hash, sr.firstRunId, sr.lastRunId]),
    );
  }
  // only a change of values or member is history; a new fingerprint of the same values is not
  const history = changed.filter((w) => w.before!.memberId !== w.sr.memberId || json(w.before!.values) !== json(w.sr.values));
  if (history.length > 0) await recordHistory(trx, runId, history.map((w) => w.before!));
  if (changed.length > 0) {
    await trx.raw(
      `update source_records s set member_id = x.member_id, "values" = x.values, stamps = x.stamps, hash = x.hash,
              last_run_id = ?, updated_at = now()
         from json_to_recordset(?::json) as x(source text, source_key text, member_id uuid, "values" jsonb, stamps jsonb, hash text)
        where s.source = x.source and s.source_key = x.source_key`,
      [runId, json(changed.map(({ sr }) => ({ source: sr.source, source_key: sr.key, member_id: sr.memberId, values: sr.values, stamps: sr.stamps, hash: sr.hash })))],
    );
  }
  // (the last-seen run of the records sent again unchanged is moved with every record the
  // batch found, in one statement: applyBatchLifecycle)
}

/** Keep source records' state before `runId` changes them (call before the change). */
export async function recordHistory(trx: Knex.Transaction, runId: number, before: SourceRecord[]): Promise<void> {
  if (before.length === 0) return;
  await copyRows(
    trx,
    'source_record_history',
    ['run_id', 'source', 'source_key', 'member_id', 'values', 'stamps', 'hash', 'first_run_id', 'last_run_id'],
    before.map((b) => [runId, b.source, b.key, b.memberId, asJson(b.values), asJson(b.stamps), b.hash, b.firstRunId, b.lastRunId]),
  );
}

/**
 * Every key a batch of `source` can meet in the store, into `add`: that source's source
 * records' keys and every member's cons_id, member_id and e-mail. Read a page at a time
 * (bounded memory); call under the members lock, so that no other writer is half done.
 * Returns how many keys it read.
 */
export async function readStoreKeys(db: Db, source: string, add: (kind: 's' | 'c' | 'm' | 'e', v: string) => void, pageSize = 50_000): Promise<number> {
  let n = 0;
  for (let after = 0; ; ) {
    const { rows } = await db.raw(`select id, source_key from source_records where source = ? and id > ? order by id limit ?`, [source, after, pageSize]);
    for (const r of rows as { id: number; source_key: string }[]) add('s', r.source_key);
    n += rows.length;
    if (rows.length < pageSize) break;
    after = Number(rows[rows.length - 1].id);
  }
  for (let after = '00000000-0000-0000-0000-000000000000'; ; ) {
    const { rows } = await db.raw(`select id, cons_id, member_id, email from members where id > ? order by id limit ?`, [after, pageSize]);
    for (const r of rows as { id: string; cons_id: string | null; member_id: string | null; email: string | null }[]) {
      if (r.cons_id) add('c', r.cons_id);
      if (r.member_id) add('m', r.member_id);
      if (r.email) add('e', r.email);
    }
    n += rows.length;
    if (rows.length < pageSize) break;
    after = rows[rows.length - 1].id;
  }
  return n;
}

/** Rough row counts of the tables a key filter is built from (the planner's estimate: no scan). */
export async function storeSize(db: Db): Promise<number> {
  const { rows } = await db.raw(`select coalesce(sum(greatest(reltuples, 0)), 0)::bigint as n from pg_class where relname in ('members', 'source_records') and relkind = 'r'`);
  return Number(rows[0].n);
}
