/**
 * Moving, restoring and removing source records outside an import or pull (revert, split,
 * a steward's merge), and computing the members they belong to again. The state each
 * source record had before is kept in history, so that every such run can be reverted
 * too. Call inside a transaction holding the members lock (takeIngestLock).
 */
import type { Knex } from 'knex';
import { diffMembers, type FieldChange } from '../members/merge.js';
import type { SourceRecord } from '../members/source-record.js';
import { computeMember, type TrustOf } from '../members/survivorship.js';
import type { Member } from '../types.js';
import { MEMBER_COLUMNS, memberToRow, rowToMember } from './member-rows.js';
import { recordHistory, sourcesOfMembers } from './source-repo.js';

type Db = Knex | Knex.Transaction;

/** One source record's move: from what it is now (none: it is created) to `target` (none: it is removed). */
export interface SourceOp {
  current?: SourceRecord;
  target?: SourceRecord;
}

/** A member before and after the ops: `next` undefined when no source record is left to it. */
export interface MemberOutcome {
  prev?: Member;
  next?: Member;
  sources: SourceRecord[];
  changes: FieldChange[];
}

const opKey = (sr: SourceRecord) => `${sr.source}\u0000${sr.key}`;

export async function loadMembers(db: Db, ids: string[]): Promise<Map<string, Member>> {
  const out = new Map<string, Member>();
  if (ids.length === 0) return out;
  const { rows } = await db.raw(`select * from members where id = any(?::uuid[])`, [ids]);
  for (const r of rows as Record<string, unknown>[]) out.set(r.id as string, rowToMember(r));
  return out;
}

/**
 * What the members the ops touch become (pure once loaded). `created` gives members the ops
 * create (split): their id and creating run.
 */
export async function planMoves(db: Db, ops: SourceOp[], trustOf: TrustOf, created: Pick<Member, 'id' | 'created_run_id'>[] = []): Promise<Map<string, MemberOutcome>> {
  const ids = new Set<string>();
  for (const op of ops) {
    if (op.current) ids.add(op.current.memberId);
    if (op.target) ids.add(op.target.memberId);
  }
  const members = await loadMembers(db, [...ids]);
  const moved = new Set(ops.flatMap((op) => [op.current, op.target].filter((x): x is SourceRecord => x !== undefined).map(opKey)));
  const byMember = new Map<string, SourceRecord[]>();
  for (const sr of await sourcesOfMembers(db, [...ids])) {
    if (moved.has(opKey(sr))) continue;
    byMember.set(sr.memberId, [...(byMember.get(sr.memberId) ?? []), sr]);
  }
  for (const op of ops) if (op.target) byMember.set(op.target.memberId, [...(byMember.get(op.target.memberId) ?? []), op.target]);
  const out = new Map<string, MemberOutcome>();
  const bases = new Map(created.map((c) => [c.id, c]));
  for (const id of ids) {
    const prev = members.get(id);
    const sources = byMember.get(id) ?? [];
    const base = prev ?? bases.get(id) ?? { id, created_run_id: null };
    const next = sources.length > 0 ? computeMember(base, sources, trustOf) : undefined;
    out.set(id, { prev, next, sources, changes: next ? diffMembers(prev, next) : [] });
  }
  return out;
}

/** Who holds each of these members' next keys, other than the members themselves. */
export async function keyClashes(db: Db, outcomes: Map<string, MemberOutcome>, allowDuplicateEmails: boolean): Promise<Map<string, string>> {
  const clashes = new Map<string, string>();
  for (const field of ['cons_id', 'member_id', 'email'] as const) {
    if (field === 'email' && allowDuplicateEmails) continue;
    const want = new Map<string, string[]>();
    for (const [id, o] of outcomes) {
      const v = o.next?.[field];
      if (v && v !== o.prev?.[field]) want.set(v, [...(want.get(v) ?? []), id]);
    }
    if (want.size === 0) continue;
    const { rows } = await db.raw(`select id, ${field} as v from members where ${field} = any(?::text[])`, [[...want.keys()]]);
    const holders = new Map<string, string[]>();
    for (const r of rows as { id: string; v: string }[]) if (!outcomes.has(r.id) || outcomes.get(r.id)!.next?.[field] === r.v) holders.set(r.v, [...(holders.get(r.v) ?? []), r.id]);
    for (const [v, takers] of want) {
      // also two members of the same ops taking one key
      const others = [...(holders.get(v) ?? []), ...takers];
      if (new Set(others).size > 1) for (const t of takers) clashes.set(t, `${field} ${JSON.stringify(v)} is held by another member now`);
    }
  }
  return clashes;
}

const json = (v: unknown) => JSON.stringify(v).replace(/\\u0000/g, '\\ufffd');

/**
 * Write the ops and the members they leave: history of every source record moved, the
 * records, their links, the members (new, changed, `removed`), and the change log.
 */
export async function writeMoves(
  trx: Knex.Transaction,
  runId: number,
  ops: SourceOp[],
  outcomes: Map<string, MemberOutcome>,
  removed: { id: string; snapshot: Record<string, unknown> }[],
  log: { source: string; ref: string; rule: string },
): Promise<void> {
  await recordHistory(trx, runId, ops.flatMap((op) => (op.current ? [op.current] : [])));
  const gone = ops.filter((op) => op.current && !op.target).map((op) => op.current!);
  if (gone.length > 0) {
    await trx.raw(
      `delete from source_records s using json_to_recordset(?::json) as x(source text, source_key text) where s.source = x.source and s.source_key = x.source_key`,
      [json(gone.map((g) => ({ source: g.source, source_key: g.key })))],
    );
  }
  const put = ops.flatMap((op) => (op.target ? [op.target] : []));
  if (put.length > 0) {
    await trx.raw(
      `insert into source_records (source, source_key, member_id, "values", stamps, hash, first_run_id, last_run_id)
       select x.source, x.source_key, x.member_id, x.values, x.stamps, x.hash, x.first_run_id, x.last_run_id
         from json_to_recordset(?::json) as x(source text, source_key text, member_id uuid, "values" jsonb, stamps jsonb, hash text, first_run_id bigint, last_run_id bigint)
       on conflict (source, source_key) do update set member_id = excluded.member_id, "values" = excluded.values, stamps = excluded.stamps,
          hash = excluded.hash, first_run_id = excluded.first_run_id, last_run_id = excluded.last_run_id, updated_at = now()`,
      [json(put.map((t) => ({ source: t.source, source_key: t.key, member_id: t.memberId, values: t.values, stamps: t.stamps, hash: t.hash, first_run_id: t.firstRunId, last_run_id: t.lastRunId })))],
    );
  }
  const fresh = [...outcomes.values()].filter((o) => !o.prev && o.next).map((o) => memberToRow(o.next!));
  const changed = [...outcomes.values()].filter((o) => o.prev && o.next && o.changes.length > 0).map((o) => memberToRow(o.next!));
  // keys given up first, and removed members gone, so that a key may move between these members
  for (const k of changed.length > 0 ? ['cons_id', 'member_id', 'email'] : []) {
    await trx.raw(`update members m set ${k} = null from json_populate_recordset(null::members, ?::json) v where m.id = v.id and m.${k} is distinct from v.${k}`, [json(changed)]);
  }
  if (removed.length > 0) {
    const ids = removed.map((r) => r.id);
    await trx.raw(`delete from push_state where member_id = any(?::uuid[])`, [ids]);
    await trx.raw(`delete from source_records where member_id = any(?::uuid[])`, [ids]);
    await trx.raw(`delete from members where id = any(?::uuid[])`, [ids]);
  }
  if (fresh.length > 0) {
    const now = new Date().toISOString();
    await trx.raw(`insert into members select * from json_populate_recordset(null::members, ?::json)`, [json(fresh.map((r) => ({ ...r, status: 'active', created_at: now, updated_at: now })))]);
  }
  if (changed.length > 0) {
    const sets = MEMBER_COLUMNS.filter((c) => c !== 'id' && c !== 'created_run_id')
      .map((c) => (c === 'groups' ? '"groups" = v."groups"' : `${c} = v.${c}`))
      .join(', ');
    await trx.raw(`update members m set ${sets}, updated_at = now() from json_populate_recordset(null::members, ?::json) v where m.id = v.id`, [json(changed)]);
  }
  // a connection's record keyed by its external id is linked to the member that holds it
  const links = ops.filter((op) => (op.current ?? op.target)!.key.startsWith('ext:'));
  for (const op of links) {
    const sr = (op.current ?? op.target)!;
    const ext = sr.key.slice(4);
    if (op.target) {
      // what was pushed to that remote record goes with it
      if (op.current && op.current.memberId !== op.target.memberId) {
        await trx.raw(`update push_state set member_id = ? where connection = ? and member_id = ? and remote_id = ?`, [op.target.memberId, sr.source, op.current.memberId, ext]);
      }
      await trx.raw(
        `insert into member_links (connection, external_id, member_id, rule, run_id) values (?, ?, ?, ?, ?)
         on conflict (connection, external_id) do update set member_id = excluded.member_id, rule = excluded.rule, run_id = excluded.run_id`,
        [sr.source, ext, op.target.memberId, log.rule, runId],
      );
    } else {
      await trx.raw(`delete from member_links where connection = ? and external_id = ? and member_id = ?`, [sr.source, ext, op.current!.memberId]);
    }
  }
  const entries = [
    ...[...outcomes.entries()].flatMap(([id, o]) => (o.prev ? [] : o.next ? [{ member_id: id, field: '_created', old: null, new: null }] : [])),
    ...[...outcomes.entries()].flatMap(([id, o]) => (o.prev ? o.changes.map((c) => ({ member_id: id, field: c.field, old: c.old, new: c.new })) : [])),
    ...removed.map((r) => ({ member_id: r.id, field: '_deleted', old: r.snapshot, new: null })),
  ];
  if (entries.length > 0) {
    await trx.raw(
      `insert into member_changes (member_id, run_id, source, source_ref, rule, field, old, new)
       select x.member_id, ?, ?, ?, ?, x.field, x.old, x.new from json_to_recordset(?::json) as x(member_id uuid, field text, old jsonb, new jsonb)`,
      [runId, log.source, log.ref, log.rule, json(entries)],
    );
  }
}
