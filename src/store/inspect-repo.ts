/** Read-only queries behind `members`, `conflicts`, `rejects` and `runs`. */
import type { Knex } from 'knex';
import type { Member } from '../types.js';
import { stampOf, type SourceRecord } from '../members/source-record.js';
import { survive, type TrustOf } from '../members/survivorship.js';
import { rowToMember } from './member-rows.js';
import { sourcesOfMembers } from './source-repo.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Find members by uuid, cons_id, member_id or email (in that order of kinds). */
export async function findMembers(db: Knex, key: string): Promise<Member[]> {
  const k = key.trim();
  if (UUID_RE.test(k)) {
    const row = await db('members').where({ id: k.toLowerCase() }).first();
    if (row) return [rowToMember(row)];
  }
  for (const column of ['cons_id', 'member_id']) {
    const rows = await db('members').where(column, k);
    if (rows.length > 0) return rows.map(rowToMember);
  }
  const rows = await db('members').where('email', k.toLowerCase());
  return rows.map(rowToMember);
}

export async function memberLinks(db: Knex, memberId: string) {
  return db('member_links').where({ member_id: memberId }).orderBy('created_at');
}

export async function memberHistory(db: Knex, memberId: string, limit = 200) {
  return db('member_changes').where({ member_id: memberId }).orderBy('id').limit(limit);
}

/** Members in id order, a page at a time (bounded memory for exports); only these statuses when given. */
export async function* iterateMembers(db: Knex, pageSize = 5000, statuses?: readonly string[]): AsyncGenerator<Member[]> {
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const q = db('members').where('id', '>', after).orderBy('id').limit(pageSize);
    if (statuses) q.whereIn('status', [...statuses]);
    const rows = await q;
    if (rows.length === 0) return;
    yield rows.map(rowToMember);
    after = rows[rows.length - 1].id;
  }
}

export async function listConflicts(db: Knex, runId?: number, limit?: number) {
  const q = db('conflicts').orderBy('id');
  // the conflicts the run refused, first or again (a record refused again updates its open conflict)
  if (runId !== undefined) q.whereIn('id', db('conflict_sightings').select('conflict_id').where({ run_id: runId }));
  if (limit) q.limit(limit);
  return q;
}

export async function listRejects(db: Knex, runId?: number, limit?: number) {
  const q = db('rejects').orderBy('id');
  if (runId !== undefined) q.where({ run_id: runId });
  if (limit) q.limit(limit);
  return q;
}

export interface FieldOrigin {
  /** the source and its key there whose value the member holds */
  source: string;
  key: string;
  /** when the value last changed at that source (ISO), if known */
  changed_at: string | null;
  /** the run that last wrote that source record */
  run: number;
}

/** Stamps are milliseconds times 1024 (src/members/source-record.ts); 0: before source records. */
const stampTime = (s: number | undefined): string | null => (s ? new Date(Math.floor(s / 1024)).toISOString() : null);

/**
 * For each field a member holds, the source record that gives it (survivorship, with the
 * trust ranks of `trustOf`), and the member's source records.
 */
export async function fieldOrigins(db: Knex, m: Member, trustOf: TrustOf): Promise<{ origins: Record<string, FieldOrigin>; sources: SourceRecord[] }> {
  const sources = await sourcesOfMembers(db, [m.id]);
  const { winners } = survive(sources, trustOf);
  const origins: Record<string, FieldOrigin> = {};
  for (const [field, sr] of Object.entries(winners)) {
    origins[field] = { source: sr.source, key: sr.key, changed_at: stampTime(stampOf(sr, field)), run: sr.lastRunId };
  }
  return { origins, sources };
}
