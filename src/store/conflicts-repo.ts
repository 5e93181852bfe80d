/**
 * The conflict queue (migration 009): open conflicts newest first, filtered by reason and
 * run, their counts, one conflict, and marking one resolved or ignored. Also the table of
 * members absorbed by a merge.
 */
import type { Knex } from 'knex';

type Db = Knex | Knex.Transaction;

export type ConflictState = 'open' | 'resolved' | 'ignored';

export interface ConflictRow {
  id: number;
  run_id: number;
  last_run_id: number | null;
  source: string;
  source_key: string | null;
  fp: string | null;
  source_ref: string | null;
  reason: string;
  candidate_ids: string[];
  record: { values?: Record<string, unknown>; raw?: Record<string, unknown> };
  state: ConflictState;
  times_seen: number;
  created_at: Date;
  last_seen_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution: Record<string, unknown> | null;
  resolve_run_id: number | null;
}

export interface QueueFilter {
  state?: ConflictState | 'all';
  reason?: string;
  /** conflicts a run refused (first or again) */
  runId?: number;
  limit?: number;
  offset?: number;
}

function filtered(db: Db, f: QueueFilter): Knex.QueryBuilder {
  const q = db('conflicts');
  if (f.state !== 'all') q.where('state', f.state ?? 'open');
  if (f.reason) q.where('reason', f.reason);
  if (f.runId !== undefined) q.whereIn('id', db('conflict_sightings').select('conflict_id').where('run_id', f.runId));
  return q;
}

/** Conflicts, newest first (last seen), open ones unless `state` says otherwise. */
export async function listQueue(db: Db, f: QueueFilter = {}): Promise<ConflictRow[]> {
  const q = filtered(db, f).select('*').orderBy([{ column: 'last_seen_at', order: 'desc' }, { column: 'id', order: 'desc' }]);
  if (f.limit) q.limit(f.limit);
  if (f.offset) q.offset(f.offset);
  return (await q) as ConflictRow[];
}

/** How many conflicts the filter gives, and by reason (without the reason filter). */
export async function queueCounts(db: Db, f: QueueFilter = {}): Promise<{ total: number; byReason: Record<string, number>; byState: Record<string, number> }> {
  const rows = (await filtered(db, { ...f, reason: undefined }).select('reason').count({ n: '*' }).groupBy('reason')) as { reason: string; n: string }[];
  const byReason: Record<string, number> = {};
  // most first, then by name: the order the CLI and the page print them in
  for (const r of rows.sort((a, b) => Number(b.n) - Number(a.n) || a.reason.localeCompare(b.reason))) byReason[r.reason] = Number(r.n);
  const states = (await filtered(db, { ...f, state: 'all' }).select('state').count({ n: '*' }).groupBy('state')) as { state: string; n: string }[];
  const byState: Record<string, number> = { open: 0, resolved: 0, ignored: 0 };
  for (const r of states) byState[r.state] = Number(r.n);
  const total = f.reason ? (byReason[f.reason] ?? 0) : Object.values(byReason).reduce((a, b) => a + b, 0);
  return { total, byReason, byState };
}

/** The runs that refused open conflicts, newest first (for the filter). */
export async function queueRuns(db: Db, limit = 50): Promise<number[]> {
  const rows = await db('conflict_sightings as s').join('conflicts as c', 'c.id', 's.conflict_id').where('c.state', 'open').distinct('s.run_id').orderBy('s.run_id', 'desc').limit(limit);
  return rows.map((r: { run_id: string }) => Number(r.run_id));
}

export async function getConflict(db: Db, id: number): Promise<ConflictRow | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  return (await db('conflicts').where({ id }).first()) as ConflictRow | undefined;
}

/** The open conflict after this one in the queue's order (or the newest, if none is after it). */
export async function nextOpenConflict(db: Db, after?: ConflictRow, f: QueueFilter = {}): Promise<number | undefined> {
  const q = filtered(db, { ...f, state: 'open' }).select('id').orderBy([{ column: 'last_seen_at', order: 'desc' }, { column: 'id', order: 'desc' }]).first();
  if (after) {
    const older = await q.clone().where((w) => w.where('last_seen_at', '<', after.last_seen_at).orWhere((x) => x.where('last_seen_at', after.last_seen_at).andWhere('id', '<', after.id)));
    if (older) return Number(older.id);
  }
  const first = await q;
  return first ? Number(first.id) : undefined;
}

/**
 * Close an open conflict. Returns false when it was not open any more (another steward
 * closed it first): the caller's transaction should then be rolled back.
 */
export async function closeConflict(db: Db, id: number, state: 'resolved' | 'ignored', by: string, resolution: Record<string, unknown>, runId: number | null): Promise<boolean> {
  const n = await db('conflicts').where({ id, state: 'open' }).update({ state, resolved_by: by, resolution: JSON.stringify(resolution), resolved_at: db.fn.now(), resolve_run_id: runId });
  return Number(n) === 1;
}

/** Remember that `absorbed` was merged into `into` (and what was merged into `absorbed` before goes on to `into`). */
export async function recordMerged(db: Db, absorbed: string, into: string, runId: number): Promise<void> {
  await db.raw(`insert into merged_members (id, into_id, run_id) values (?, ?, ?) on conflict (id) do update set into_id = excluded.into_id, run_id = excluded.run_id, at = now()`, [absorbed, into, runId]);
  await db('merged_members').where({ into_id: absorbed }).update({ into_id: into });
}

/** The member a merged-away id went to, if it was merged (and is not a member again: a reverted merge). */
export async function mergedInto(db: Db, id: string): Promise<{ into_id: string; run_id: number } | undefined> {
  const row = await db('merged_members').where({ id }).first();
  return row ? { into_id: row.into_id as string, run_id: Number(row.run_id) } : undefined;
}
