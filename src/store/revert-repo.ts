/**
 * Set-based reads behind `member-sync revert`: the source records a run (and its child
 * runs) created or changed, their state before the run, and whether another run changed
 * them since. One query per kind of fact.
 */
import type { Knex } from 'knex';
import type { SourceRecord } from '../members/source-record.js';
import { rowToSource } from './source-repo.js';

type Db = Knex | Knex.Transaction;

export interface SourceKey {
  source: string;
  source_key: string;
}

export const pairKey = (a: string, b: string): string => `${a}\u0000${b}`;

/** The keys of the source records the run set created or changed, a page at a time. */
export async function* iterateRevertKeys(db: Db, runIds: number[], pageSize: number): AsyncGenerator<SourceKey[]> {
  let after: SourceKey = { source: '', source_key: '' };
  for (;;) {
    const { rows } = await db.raw(
      `select source, source_key from (
         select source, source_key from source_record_history where run_id = any(?::bigint[])
         union select source, source_key from source_records where first_run_id = any(?::bigint[])) x
        where (source, source_key) > (?, ?) order by source, source_key limit ?`,
      [runIds, runIds, after.source, after.source_key, pageSize],
    );
    if (rows.length === 0) return;
    yield rows as SourceKey[];
    after = rows[rows.length - 1];
  }
}

export interface RevertFacts {
  /** the source records as they are now */
  current: Map<string, SourceRecord>;
  /** the state before the run set first changed them (none: the run set created them) */
  before: Map<string, SourceRecord>;
  /** the newest run outside the set that changed them after the set did */
  laterRun: Map<string, number>;
  /** member -> connections that hold it (push_state ok) */
  pushedTo: Map<string, string[]>;
  /** members with a link made by a run outside the set */
  laterLinks: Set<string>;
}

export async function loadRevertFacts(db: Db, runIds: number[], keys: SourceKey[]): Promise<RevertFacts> {
  const keyJson = JSON.stringify(keys);
  const current = new Map<string, SourceRecord>();
  const { rows: cur } = await db.raw(
    `select s.* from source_records s join json_to_recordset(?::json) as x(source text, source_key text) on s.source = x.source and s.source_key = x.source_key`,
    [keyJson],
  );
  for (const r of cur) current.set(pairKey(r.source, r.source_key), rowToSource(r));
  // the set's first history row of a record holds its state before the set (unless the set created it)
  const before = new Map<string, SourceRecord>();
  const firstId = new Map<string, number>();
  const { rows: hist } = await db.raw(
    `select distinct on (h.source, h.source_key) h.* from source_record_history h
       join json_to_recordset(?::json) as x(source text, source_key text) on h.source = x.source and h.source_key = x.source_key
      where h.run_id = any(?::bigint[]) order by h.source, h.source_key, h.id`,
    [keyJson, runIds],
  );
  for (const r of hist) {
    const k = pairKey(r.source, r.source_key);
    firstId.set(k, Number(r.id));
    if (!runIds.includes(Number(r.first_run_id))) before.set(k, rowToSource(r));
  }
  const laterRun = new Map<string, number>();
  const { rows: later } = await db.raw(
    `select h.source, h.source_key, h.id, h.run_id from source_record_history h
       join json_to_recordset(?::json) as x(source text, source_key text) on h.source = x.source and h.source_key = x.source_key
      where h.run_id <> all(?::bigint[]) order by h.id`,
    [keyJson, runIds],
  );
  for (const r of later) {
    const k = pairKey(r.source, r.source_key);
    if (Number(r.id) > (firstId.get(k) ?? 0)) laterRun.set(k, Number(r.run_id));
  }
  const memberIds = [...new Set([...current.values(), ...before.values()].map((s) => s.memberId))];
  const pushedTo = new Map<string, string[]>();
  const { rows: pushed } = await db.raw(`select member_id, connection from push_state where member_id = any(?::uuid[]) and status = 'ok' order by connection`, [memberIds]);
  for (const r of pushed) pushedTo.set(r.member_id, [...(pushedTo.get(r.member_id) ?? []), r.connection]);
  const { rows: links } = await db.raw(
    `select distinct member_id from member_links where member_id = any(?::uuid[]) and (run_id is null or run_id <> all(?::bigint[]))`,
    [memberIds, runIds],
  );
  return { current, before, laterRun, pushedTo, laterLinks: new Set(links.map((r: { member_id: string }) => r.member_id)) };
}
