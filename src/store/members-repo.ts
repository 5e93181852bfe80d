/**
 * Set-based reads and writes of a batch: one query per key kind to fill a WorkingSet,
 * one statement per table to write a BatchOutcome.
 */
import type { Knex } from 'knex';
import type { BatchOutcome } from '../members/decide-batch.js';
import { WorkingSet } from '../members/working-set.js';
import type { Member, NormalizedRecord, RecordRef } from '../types.js';
import { asJson, copyRows } from './copy.js';
import { MEMBER_COLUMNS, memberToRow, rowToMember } from './member-rows.js';
import { sourcesOfMembers, writeSources } from './source-repo.js';

export interface BatchKeys {
  connection?: string;
  /** the records' source and their keys there (rule 0) */
  source?: string;
  sourceKeys: string[];
  /** members of the source records of those keys the store holds (looked up already) */
  sourceMembers: string[];
  externalIds: string[];
  consIds: string[];
  memberIds: string[];
  emails: string[];
}

export function keysOf(records: { record: NormalizedRecord; key: string }[], source: string, connection: string | undefined, sourceMembers: string[]): BatchKeys {
  const sourceKeys = new Set<string>();
  const ext = new Set<string>();
  const cons = new Set<string>();
  const mids = new Set<string>();
  const emails = new Set<string>();
  for (const { record: r, key } of records) {
    sourceKeys.add(key);
    if (connection && r.ref.externalId) ext.add(r.ref.externalId);
    if (r.values.cons_id) cons.add(r.values.cons_id);
    if (r.values.member_id) mids.add(r.values.member_id);
    if (r.values.email) emails.add(r.values.email);
  }
  return { connection, source, sourceKeys: [...sourceKeys], sourceMembers, externalIds: [...ext], consIds: [...cons], memberIds: [...mids], emails: [...emails] };
}

const COLS = MEMBER_COLUMNS.map((c) => `m.${c === 'groups' ? '"groups"' : c}`).join(', ');

/**
 * The members a batch's keys reach, with all their source records. With `overlay` (the
 * working set of the batch before, written but maybe not committed, or what a dry run
 * decided so far): its version of a member and its source records replace the stored
 * ones, and its members reached by the keys are added, so the set is as if that batch had
 * committed.
 */
export async function loadWorkingSet(db: Knex | Knex.Transaction, keys: BatchKeys, overlay?: WorkingSet): Promise<WorkingSet> {
  const set = new WorkingSet();
  const add = (rows: Record<string, unknown>[]) => rows.forEach((r) => set.add(overlay?.members.get(r.id as string) ?? rowToMember(r)));
  if (keys.connection && keys.externalIds.length > 0) {
    const { rows } = await db.raw(
      `select ${COLS}, l.external_id as _ext from unnest(?::text[]) k(v)
         join member_links l on l.connection = ? and l.external_id = k.v join members m on m.id = l.member_id`,
      [keys.externalIds, keys.connection],
    );
    add(rows);
    for (const r of rows) set.addLink(keys.connection, r._ext, r.id);
  }
  // one query for the members of the keys' source records and every holder of a key. Joins
  // on the keys, not `= any(...)`: right after a bulk load the planner's statistics say the
  // tables are small, and it then scans them whole
  const none = keys.sourceMembers.length + keys.consIds.length + keys.memberIds.length + keys.emails.length === 0;
  const { rows } = none
    ? { rows: [] }
    : await db.raw(
        `select ${COLS} from unnest(?::uuid[]) k(v) join members m on m.id = k.v
         union all select ${COLS} from unnest(?::text[]) k(v) join members m on m.cons_id = k.v
         union all select ${COLS} from unnest(?::text[]) k(v) join members m on m.member_id = k.v
         union all select ${COLS} from unnest(?::text[]) k(v) join members m on m.email = k.v`,
        [keys.sourceMembers, keys.consIds, keys.memberIds, keys.emails],
      );
  add(rows);
  if (overlay) {
    const addOverlay = (m: Member | undefined) => m && set.add(m);
    if (keys.connection) {
      for (const ext of keys.externalIds) {
        const m = overlay.byLink(keys.connection, ext);
        if (m) {
          set.add(m);
          set.addLink(keys.connection, ext, m.id);
        }
      }
    }
    if (keys.source) for (const k of keys.sourceKeys) addOverlay(overlay.members.get(overlay.bySource(keys.source, k)?.memberId ?? ''));
    for (const k of keys.consIds) addOverlay(overlay.byConsId(k));
    for (const k of keys.memberIds) addOverlay(overlay.byMemberId(k));
    for (const k of keys.emails) overlay.byEmail(k).forEach(addOverlay);
  }
  const stored = [...set.members.keys()].filter((id) => !overlay?.members.has(id));
  for (const sr of await sourcesOfMembers(db, stored)) set.addSource(sr);
  if (overlay) for (const id of set.members.keys()) if (overlay.members.has(id)) overlay.sourceRecordsOf(id).forEach((sr) => set.putSource(sr));
  return set;
}

/** The lock every writer of members, source records and links takes for each transaction (ingest, revert, split, push's learned links). */
export const INGEST_LOCK = 727002;

/**
 * Take the members lock for this transaction; returns the lock's generation: each holder
 * draws the next number, so a process that drew n and draws n + 1 next knows no one else
 * held the lock (and wrote members) in between.
 */
export async function takeIngestLock(trx: Knex | Knex.Transaction): Promise<number> {
  await trx.raw('select pg_advisory_xact_lock(?)', [INGEST_LOCK]);
  const { rows } = await trx.raw(`select nextval('ingest_epoch') as n`);
  return Number(rows[0].n);
}

export function refText(ref: RecordRef): string | null {
  if (ref.line !== undefined) return `line ${ref.line}`;
  if (ref.externalId !== undefined) return `id ${ref.externalId}`;
  if (ref.index !== undefined) return `record ${ref.index}`;
  return null;
}

const KEY_FIELDS: ReadonlySet<string> = new Set(['cons_id', 'member_id', 'email']);

// PostgreSQL text and jsonb refuse NUL; a NUL that reached here is kept visibly.
const json = (v: unknown) => JSON.stringify(v).replace(/\\u0000/g, '\\ufffd');

/** Write what a batch decided. Call inside the batch's transaction. */
export async function writeOutcome(trx: Knex.Transaction, out: BatchOutcome, runId: number, source: string): Promise<void> {
  // An identity key can leave one member and reach another (or a new one) in the same
  // batch. The unique indexes are checked row by row, so first clear every key an updated
  // member gives up; the batch's final state is unique, so no order of the writes below
  // can then collide.
  const moved = new Map<string, Set<string>>();
  for (const c of out.changes) {
    if (c.old == null || !KEY_FIELDS.has(c.field) || !out.updated.has(c.memberId)) continue;
    let ids = moved.get(c.field);
    if (!ids) moved.set(c.field, (ids = new Set()));
    ids.add(c.memberId);
  }
  for (const [field, ids] of moved) {
    await trx.raw(`update members set ${field} = null where id = any(?::uuid[])`, [[...ids]]);
  }
  if (out.updated.size > 0) {
    const rows = [...out.updated.values()].map(memberToRow);
    const sets = MEMBER_COLUMNS.filter((c) => c !== 'id' && c !== 'created_run_id')
      .map((c) => (c === 'groups' ? '"groups" = v."groups"' : `${c} = v.${c}`))
      .join(', ');
    await trx.raw(
      `update members m set ${sets}, updated_at = now()
       from json_populate_recordset(null::members, ?::json) v where m.id = v.id`,
      [json(rows)],
    );
  }
  if (out.created.size > 0) {
    const cols = MEMBER_COLUMNS as readonly string[];
    const rows = [...out.created.values()].map((m) => {
      const r = memberToRow(m);
      return cols.map((c) => (c === 'other' || c === 'provenance' ? asJson(r[c]) : r[c]));
    });
    await copyRows(trx, 'members', [...cols], rows);
  }
  await writeSources(trx, out.sources.values(), runId);
  if (out.links.length > 0) {
    await trx.raw(
      `insert into member_links (connection, external_id, member_id, rule, run_id)
       select x.connection, x.external_id, x.member_id, x.rule, ? from json_to_recordset(?::json)
         as x(connection text, external_id text, member_id uuid, rule text)
       on conflict (connection, external_id) do nothing`,
      [runId, json(out.links.map((l) => ({ connection: l.connection, external_id: l.externalId, member_id: l.memberId, rule: l.rule })))],
    );
  }
  if (out.changes.length > 0) {
    await copyRows(
      trx,
      'member_changes',
      ['member_id', 'run_id', 'source', 'source_ref', 'rule', 'field', 'old', 'new'],
      out.changes.map((c) => [c.memberId, runId, source, refText(c.ref), c.rule, c.field, asJson(c.old), asJson(c.new)]),
    );
  }
  if (out.conflicts.length > 0) await writeConflicts(trx, out.conflicts, runId, source);
  if (out.rejects.length > 0) {
    await trx.raw(
      `insert into rejects (run_id, source, source_ref, line, reason, raw)
       select ?, ?, x.source_ref, x.line, x.reason, x.raw from json_to_recordset(?::json)
         as x(source_ref text, line int, reason text, raw jsonb)`,
      [runId, source, json(out.rejects.map((r) => ({ source_ref: refText(r.ref), line: r.ref.line ?? null, reason: r.reason, raw: r.raw })))],
    );
  }
}

/**
 * Conflicts are a queue (migration 009): the same record refused again for the same reason
 * updates its open (or ignored) conflict — times seen, last run, the record as last sent —
 * instead of adding a row; `conflict_sightings` counts each run's refusals of it. One statement.
 */
async function writeConflicts(trx: Knex.Transaction, conflicts: BatchOutcome['conflicts'], runId: number, source: string): Promise<void> {
  // one row per (key, reason) of the batch: ON CONFLICT cannot touch a row twice
  const byKey = new Map<string, { source_key: string; fp: string; source_ref: string | null; reason: string; candidate_ids: string[]; record: unknown; times: number }>();
  for (const c of conflicts) {
    const k = `${c.key}\u0000${c.reason}`;
    const times = (byKey.get(k)?.times ?? 0) + 1;
    byKey.set(k, { source_key: c.key, fp: c.fp, source_ref: refText(c.ref), reason: c.reason, candidate_ids: c.candidates, record: c.record, times });
  }
  await trx.raw(
    `with x as (select * from json_to_recordset(?::json) as x(source_key text, fp text, source_ref text, reason text, candidate_ids uuid[], record jsonb, times int)),
     up as (
       insert into conflicts (run_id, last_run_id, source, source_key, fp, source_ref, reason, candidate_ids, record, times_seen)
       select ?, ?, ?, x.source_key, x.fp, x.source_ref, x.reason, x.candidate_ids, x.record, x.times from x
       on conflict (source, source_key, reason) where state <> 'resolved' do update
          set times_seen = conflicts.times_seen + excluded.times_seen, last_run_id = excluded.last_run_id, last_seen_at = now(),
              fp = excluded.fp, source_ref = excluded.source_ref, candidate_ids = excluded.candidate_ids, record = excluded.record,
              -- ignored stays ignored while the source sends the same record; a changed one is open again
              state = case when conflicts.state = 'ignored' and conflicts.fp is not distinct from excluded.fp then 'ignored' else 'open' end,
              resolved_at = case when conflicts.state = 'ignored' and conflicts.fp is not distinct from excluded.fp then conflicts.resolved_at end
       returning id, source_key, reason)
     insert into conflict_sightings (conflict_id, run_id, times)
     select up.id, ?, x.times from up join x on x.source_key = up.source_key and x.reason = up.reason
     on conflict (conflict_id, run_id) do update set times = conflict_sightings.times + excluded.times`,
    [json([...byKey.values()]), runId, runId, source, runId],
  );
}
