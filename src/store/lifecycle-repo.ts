/**
 * Member lifecycle in the store (migration 010, DESIGN.md "Lifecycle"): source records
 * removed at their source, members removed (by their sources, by a file's `status`
 * column, by hand) and active again when a source sends them again. Every status change
 * is a `status` row of the change log, so `revert` can undo it. Call the writers inside a
 * transaction holding the members lock (takeIngestLock).
 */
import type { Knex } from 'knex';

type Db = Knex | Knex.Transaction;

export const MEMBER_STATUSES = ['active', 'removed', 'erased'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];

/** `lifecycle.removeWhen`: when the removal of source records removes their member. */
export type RemoveWhen = 'all-sources' | 'never' | { any: string[] };

const json = (v: unknown) => JSON.stringify(v).replace(/\\u0000/g, '\\ufffd');

export interface StatusChange {
  member_id: string;
  old: MemberStatus;
  new: MemberStatus;
  reason?: string | null;
}

/** The change log rows of status changes (field `status`). */
export async function logStatusChanges(trx: Db, runId: number, log: { source: string; ref: string | null; rule: string }, changes: StatusChange[]): Promise<void> {
  if (changes.length === 0) return;
  await trx.raw(
    `insert into member_changes (member_id, run_id, source, source_ref, rule, field, old, new)
     select x.member_id, ?, ?, ?, ?, 'status', to_jsonb(x.old), to_jsonb(x.new) from json_to_recordset(?::json) as x(member_id uuid, old text, new text)`,
    [runId, log.source, log.ref, log.rule, json(changes)],
  );
}

/**
 * SQL condition (on `m`) under which removal at the sources removes the member: every one
 * of its source records removed (all-sources), or one of an authoritative connection (any).
 */
function removedBySources(removeWhen: RemoveWhen): { sql: string; bindings: Knex.RawBinding[] } {
  if (removeWhen === 'never') return { sql: 'false', bindings: [] };
  if (removeWhen === 'all-sources') {
    // 'migrated' holds what a member had before source records existed (migration 006): no source that could list it
    return { sql: `not exists (select 1 from source_records s where s.member_id = m.id and s.removed_at is null and s.source <> 'migrated')`, bindings: [] };
  }
  return { sql: `exists (select 1 from source_records s where s.member_id = m.id and s.removed_at is not null and s.source = any(?::text[]))`, bindings: [removeWhen.any] };
}

/**
 * The end of a pull that read its connection's whole list: the connection's source records
 * that run did not see are removed at that source (one statement), and the members that
 * leaves removed under `removeWhen`. Returns how many of each.
 */
export async function markGoneAtSource(trx: Knex.Transaction, connection: string, runId: number, removeWhen: RemoveWhen): Promise<{ sourceRecords: number; members: number }> {
  const { rows } = await trx.raw(
    `with gone as (
       update source_records set removed_at = now(), removed_run_id = ?
        where source = ? and last_run_id < ? and removed_at is null
       returning member_id)
     select count(*)::int as n, coalesce(array_agg(distinct member_id), '{}') as ids from gone`,
    [runId, connection, runId],
  );
  const n = Number(rows[0].n);
  const ids = rows[0].ids as string[];
  if (n === 0) return { sourceRecords: 0, members: 0 };
  const cond = removedBySources(removeWhen);
  const reason = `no longer listed by ${connection} (a complete pull, run ${runId})`;
  const { rows: removed } = await trx.raw(
    `update members m set status = 'removed', removed_at = now(), removed_reason = ?, removed_by = ?, updated_at = now()
      where m.id = any(?::uuid[]) and m.status = 'active' and ${cond.sql}
      returning m.id`,
    [reason, `source:${connection}`, ids, ...cond.bindings],
  );
  await logStatusChanges(
    trx,
    runId,
    { source: connection, ref: null, rule: 'removed_at_source' },
    (removed as { id: string }[]).map((r) => ({ member_id: r.id, old: 'active', new: 'removed' })),
  );
  return { sourceRecords: n, members: removed.length };
}

/** Members removed by hand or by a file (not by a source's complete list). */
export async function removeMembers(trx: Knex.Transaction, ids: string[], runId: number, how: { reason: string | null; by: string; source: string; ref: string | null; rule: string }): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await trx.raw(
    `update members m set status = 'removed', removed_at = now(), removed_reason = ?, removed_by = ?, updated_at = now()
      where m.id = any(?::uuid[]) and m.status = 'active' returning m.id`,
    [how.reason, how.by, ids],
  );
  const done = (rows as { id: string }[]).map((r) => r.id);
  await logStatusChanges(trx, runId, how, done.map((id) => ({ member_id: id, old: 'active', new: 'removed' })));
  return done;
}

export interface BatchLifecycle {
  source: string;
  runId: number;
  /** ids of the source records the batch's source listed (seen unchanged, changed, refused) */
  listedIds: number[];
  /** keys (at `source`) of the source records the batch wrote */
  writtenKeys: string[];
  /** members that gained a source record in the batch (a new one, or one moved to them) */
  gained: string[];
  /** keys (at `source`) of records a file marks `status: removed` */
  removedKeys: string[];
  removeWhen: RemoveWhen;
}

/**
 * After a batch is written, in its transaction: source records listed again are no longer
 * removed at their source; a removed member a source sends again (a source record of it
 * listed again, or a new one) is active again unless its sources still remove it; records
 * a file marks `status: removed` remove their source record and member. Returns the
 * number of members made active and removed.
 */
export async function applyBatchLifecycle(trx: Knex.Transaction, b: BatchLifecycle): Promise<{ revived: number; removed: number }> {
  // a record the batch refused (a conflict, a reject) was still listed by its source; so was
  // every one it found (this statement moves their last-seen run: writeSources does not).
  // Only a connection's: a file lists no whole population (nothing is removed by its
  // absence), and rewriting a million source records on every re-import would cost more
  // than the import saves; a file source's last run is the last that changed the record.
  if (b.listedIds.length > 0 && !b.source.startsWith('file:')) await trx.raw(`update source_records set last_run_id = ? where id = any(?::bigint[]) and last_run_id < ?`, [b.runId, b.listedIds, b.runId]);
  const removedKeys = new Set(b.removedKeys);
  const writtenKeys = b.writtenKeys.filter((k) => !removedKeys.has(k));
  let back: string[] = [];
  if (b.listedIds.length > 0 || writtenKeys.length > 0) {
    const { rows } = await trx.raw(
      `update source_records set removed_at = null, removed_run_id = null
        where removed_run_id is not null and source = ? and (id = any(?::bigint[]) or source_key = any(?::text[])) and removed_at is not null
          and not (source_key = any(?::text[]))
        returning member_id`,
      [b.source, b.listedIds, writtenKeys, [...removedKeys]],
    );
    back = (rows as { member_id: string }[]).map((r) => r.member_id);
  }
  let revived = 0;
  const candidates = [...new Set([...back, ...b.gained])];
  if (candidates.length > 0) {
    const cond = removedBySources(b.removeWhen);
    const { rows } = await trx.raw(
      `update members m set status = 'active', removed_at = null, removed_reason = null, removed_by = null, updated_at = now()
        where m.id = any(?::uuid[]) and m.status = 'removed'
          and (m.removed_by is null or m.removed_by not like 'source:%' or not (${cond.sql}))
        returning m.id`,
      [candidates, ...cond.bindings],
    );
    revived = rows.length;
    await logStatusChanges(
      trx,
      b.runId,
      { source: b.source, ref: null, rule: 'sent_again' },
      (rows as { id: string }[]).map((r) => ({ member_id: r.id, old: 'removed', new: 'active' })),
    );
  }
  let removed = 0;
  if (removedKeys.size > 0) {
    const { rows } = await trx.raw(
      `update source_records set removed_at = coalesce(removed_at, now()), removed_run_id = coalesce(removed_run_id, ?)
        where source = ? and source_key = any(?::text[]) returning member_id`,
      [b.runId, b.source, [...removedKeys]],
    );
    const ids = [...new Set((rows as { member_id: string }[]).map((r) => r.member_id))];
    removed = (await removeMembers(trx, ids, b.runId, { reason: `status removed in ${b.source}`, by: b.source, source: b.source, ref: null, rule: 'status_column' })).length;
  }
  return { revived, removed };
}

/**
 * Undo the status changes of these runs (revert): a member whose status is still what a
 * run made it goes back to what it was; source records the runs saw gone are listed again.
 */
export async function revertStatuses(trx: Knex.Transaction, runIds: number[], runId: number, target: number): Promise<number> {
  await trx.raw(`update source_records set removed_at = null, removed_run_id = null where removed_run_id = any(?::bigint[])`, [runIds]);
  const { rows } = await trx.raw(
    `with last as (
       select distinct on (c.member_id) c.member_id, c.old #>> '{}' as old, c.new #>> '{}' as new
         from member_changes c where c.run_id = any(?::bigint[]) and c.field = 'status' order by c.member_id, c.id desc),
     first as (
       select distinct on (c.member_id) c.member_id, c.old #>> '{}' as old
         from member_changes c where c.run_id = any(?::bigint[]) and c.field = 'status' order by c.member_id, c.id)
     update members m set status = first.old,
            removed_at = case when first.old = 'active' then null else m.removed_at end,
            removed_reason = case when first.old = 'active' then null else m.removed_reason end,
            removed_by = case when first.old = 'active' then null else m.removed_by end,
            updated_at = now()
       from last join first using (member_id)
      where m.id = last.member_id and m.status = last.new and m.status <> 'erased' and first.old <> last.new
      returning m.id, last.new as was, first.old as now`,
    [runIds, runIds],
  );
  await logStatusChanges(
    trx,
    runId,
    { source: 'revert', ref: `run ${target}`, rule: 'revert' },
    (rows as { id: string; was: MemberStatus; now: MemberStatus }[]).map((r) => ({ member_id: r.id, old: r.was, new: r.now })),
  );
  return rows.length;
}

/** How many members of each status (for summaries). */
export async function countByStatus(db: Db): Promise<Record<MemberStatus, number>> {
  const { rows } = await db.raw(`select status, count(*)::int as n from members group by status`);
  const out: Record<MemberStatus, number> = { active: 0, removed: 0, erased: 0 };
  for (const r of rows as { status: MemberStatus; n: number }[]) out[r.status] = r.n;
  return out;
}
