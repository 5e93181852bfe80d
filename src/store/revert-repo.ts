/**
 * Set-based reads and writes behind `member-sync revert`: the changes a run (and its
 * child runs) made to a batch of members, what happened to those members since, and
 * the restoring writes. One query per kind of fact, one statement per table.
 */
import type { Knex } from 'knex';
import type { Member } from '../types.js';
import { MEMBER_COLUMNS, memberToRow, rowToMember } from './member-rows.js';

type Db = Knex | Knex.Transaction;

export interface ChangeRow {
  id: number;
  member_id: string;
  run_id: number;
  field: string;
  old: unknown;
  new: unknown;
}

export interface RevertFacts {
  /** the run set's changes to these members, in id order */
  changes: ChangeRow[];
  members: Map<string, Member>;
  /** `${member}\u0000${field}` -> newest change by a run outside the set */
  laterChange: Map<string, { id: number; run_id: number }>;
  /** member -> newest change of any field by a run outside the set */
  laterAny: Map<string, { id: number; run_id: number }>;
  /** members with a link made by a run outside the set */
  laterLinks: Set<string>;
  /** member -> connections that hold it (push_state ok) */
  pushedTo: Map<string, string[]>;
}

export const pairKey = (memberId: string, field: string): string => `${memberId}\u0000${field}`;

/** Member ids the run set changed, a page at a time. */
export async function* iterateChangedMemberIds(db: Db, runIds: number[], pageSize: number): AsyncGenerator<string[]> {
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const { rows } = await db.raw(
      `select distinct member_id from member_changes where run_id = any(?::bigint[]) and member_id > ? order by member_id limit ?`,
      [runIds, after, pageSize],
    );
    if (rows.length === 0) return;
    const ids = rows.map((r: { member_id: string }) => r.member_id);
    yield ids;
    after = ids[ids.length - 1];
  }
}

export async function loadRevertFacts(db: Db, runIds: number[], memberIds: string[]): Promise<RevertFacts> {
  const changes = (
    await db.raw(`select id, member_id, run_id, field, old, new from member_changes where run_id = any(?::bigint[]) and member_id = any(?::uuid[]) order by id`, [runIds, memberIds])
  ).rows.map((r: ChangeRow) => ({ ...r, id: Number(r.id), run_id: Number(r.run_id) }));
  const members = new Map<string, Member>();
  for (const r of (await db.raw(`select * from members where id = any(?::uuid[])`, [memberIds])).rows) members.set(r.id, rowToMember(r));
  const laterChange = new Map<string, { id: number; run_id: number }>();
  const laterAny = new Map<string, { id: number; run_id: number }>();
  const { rows: later } = await db.raw(
    `select distinct on (member_id, field) member_id, field, id, run_id from member_changes
     where member_id = any(?::uuid[]) and run_id <> all(?::bigint[]) order by member_id, field, id desc`,
    [memberIds, runIds],
  );
  for (const r of later) {
    const v = { id: Number(r.id), run_id: Number(r.run_id) };
    laterChange.set(pairKey(r.member_id, r.field), v);
    if ((laterAny.get(r.member_id)?.id ?? -1) < v.id) laterAny.set(r.member_id, v);
  }
  const { rows: links } = await db.raw(
    `select distinct member_id from member_links where member_id = any(?::uuid[]) and (run_id is null or run_id <> all(?::bigint[]))`,
    [memberIds, runIds],
  );
  const pushedTo = new Map<string, string[]>();
  const { rows: pushed } = await db.raw(`select member_id, connection from push_state where member_id = any(?::uuid[]) and status = 'ok' order by connection`, [memberIds]);
  for (const r of pushed) pushedTo.set(r.member_id, [...(pushedTo.get(r.member_id) ?? []), r.connection]);
  return { changes, members, laterChange, laterAny, laterLinks: new Set(links.map((r: { member_id: string }) => r.member_id)), pushedTo };
}

/**
 * Who set each field before the run set first changed it: the newest earlier change of
 * that field (or the creation), so a restored field gets its old provenance back.
 */
export async function provenanceBefore(db: Db, firsts: { member_id: string; field: string; first_id: number }[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (firsts.length === 0) return out;
  const { rows } = await db.raw(
    `select distinct on (x.member_id, x.field) x.member_id, x.field, c.source, c.run_id, c.at
     from json_to_recordset(?::json) as x(member_id uuid, field text, first_id bigint)
     join member_changes c on c.member_id = x.member_id and c.field in (x.field, '_created') and c.id < x.first_id
     order by x.member_id, x.field, c.id desc`,
    [JSON.stringify(firsts)],
  );
  for (const r of rows) out.set(pairKey(r.member_id, r.field), Number(r.run_id));
  return out;
}

/** Members whose identity key `column` has one of `values`. */
export async function keyHolders(db: Db, column: 'cons_id' | 'member_id' | 'email', values: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (values.length === 0) return out;
  const { rows } = await db.raw(`select id, ${column} as v from members where ${column} = any(?::text[])`, [values]);
  for (const r of rows) out.set(r.v, [...(out.get(r.v) ?? []), r.id]);
  return out;
}

export interface RevertWrite {
  updated: Member[];
  removed: string[];
  changes: { member_id: string; field: string; old: unknown; new: unknown }[];
}

const json = (v: unknown) => JSON.stringify(v).replace(/\\u0000/g, '\\ufffd');

export async function writeRevert(trx: Knex.Transaction, w: RevertWrite, runId: number, sourceRef: string): Promise<void> {
  if (w.updated.length > 0) {
    const sets = MEMBER_COLUMNS.filter((c) => c !== 'id' && c !== 'created_run_id')
      .map((c) => (c === 'groups' ? '"groups" = v."groups"' : `${c} = v.${c}`))
      .join(', ');
    await trx.raw(`update members m set ${sets}, updated_at = now() from json_populate_recordset(null::members, ?::json) v where m.id = v.id`, [json(w.updated.map(memberToRow))]);
  }
  if (w.removed.length > 0) {
    // links go with the member (on delete cascade); history stays in member_changes
    await trx.raw(`delete from push_state where member_id = any(?::uuid[])`, [w.removed]);
    await trx.raw(`delete from members where id = any(?::uuid[])`, [w.removed]);
  }
  if (w.changes.length > 0) {
    await trx.raw(
      `insert into member_changes (member_id, run_id, source, source_ref, rule, field, old, new)
       select x.member_id, ?, 'revert', ?, 'revert', x.field, x.old, x.new from json_to_recordset(?::json)
         as x(member_id uuid, field text, old jsonb, new jsonb)`,
      [runId, sourceRef, json(w.changes)],
    );
  }
}
