/** Reads behind the review page that the CLI has no command for: member search, history with its runs. */
import type { Knex } from 'knex';
import type { Member } from '../types.js';
import { findMembers } from './inspect-repo.js';
import { rowToMember } from './member-rows.js';

/** Members by uuid, cons_id, member_id or e-mail (exact), else by name (every word in the first or last name). */
export async function searchMembers(db: Knex, query: string, limit = 50): Promise<Member[]> {
  const q = query.trim();
  if (q === '') return [];
  const exact = await findMembers(db, q);
  if (exact.length > 0) return exact.slice(0, limit);
  const words = q.split(/\s+/).filter(Boolean).slice(0, 5);
  const like = (w: string) => `%${w.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await db('members')
    .where((b) => {
      for (const w of words) b.andWhere((x) => x.whereILike('first_name', like(w)).orWhereILike('last_name', like(w)).orWhereILike('email', like(w)));
    })
    .orderBy(['last_name', 'first_name', 'id'])
    .limit(limit);
  return rows.map(rowToMember);
}

/** A member's change log with the kind of each run. */
export async function historyWithRuns(db: Knex, memberId: string, limit = 200) {
  return db('member_changes as c')
    .leftJoin('runs as r', 'r.id', 'c.run_id')
    .where('c.member_id', memberId)
    .orderBy('c.id')
    .limit(limit)
    .select('c.run_id', 'r.kind as run_kind', 'c.source', 'c.source_ref', 'c.rule', 'c.field', 'c.old', 'c.new', 'c.at');
}

export async function membersByIds(db: Knex, ids: string[]): Promise<Map<string, Member>> {
  const out = new Map<string, Member>();
  if (ids.length === 0) return out;
  for (const r of await db('members').whereIn('id', ids)) out.set(r.id as string, rowToMember(r));
  return out;
}
