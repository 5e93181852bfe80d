/** Read-only queries behind `members`, `conflicts`, `rejects` and `runs`. */
import type { Knex } from 'knex';
import { MEMBER_FIELDS, type Member } from '../types.js';
import { rowToMember } from './member-rows.js';

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

/** Members in id order, a page at a time (bounded memory for exports). */
export async function* iterateMembers(db: Knex, pageSize = 5000): AsyncGenerator<Member[]> {
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await db('members').where('id', '>', after).orderBy('id').limit(pageSize);
    if (rows.length === 0) return;
    yield rows.map(rowToMember);
    after = rows[rows.length - 1].id;
  }
}

export async function listConflicts(db: Knex, runId?: number, limit?: number) {
  const q = db('conflicts').orderBy('id');
  if (runId !== undefined) q.where({ run_id: runId });
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
  run: number;
  source: string | null;
  at: string | null;
}

/** For each field a member holds: the run that last set it, with that run's source and time. */
export async function fieldOrigins(db: Knex, m: Member): Promise<Record<string, FieldOrigin>> {
  const runOf = (field: string) => m.provenance[field] ?? m.created_run_id;
  const ids = new Set<number>();
  for (const f of MEMBER_FIELDS) {
    const run = runOf(f);
    if ((m as unknown as Record<string, unknown>)[f] !== undefined && run !== null) ids.add(run);
  }
  const runs: { id: number; source: string | null; started_at: Date }[] = ids.size ? await db('runs').select('id', 'source', 'started_at').whereIn('id', [...ids]) : [];
  const byId = new Map(runs.map((r) => [Number(r.id), r]));
  const out: Record<string, FieldOrigin> = {};
  for (const f of MEMBER_FIELDS) {
    const run = runOf(f);
    if ((m as unknown as Record<string, unknown>)[f] === undefined || run === null) continue;
    const r = byId.get(run);
    out[f] = { run, source: r?.source ?? null, at: r ? new Date(r.started_at).toISOString() : null };
  }
  return out;
}
