/**
 * Identity rule 6: what a member becomes when one of its source records changes, and the
 * keys that change may not take. Pure.
 */
import { MEMBER_FIELDS, type ConflictReason, type Member, type MemberField } from '../types.js';
import { sameValue } from './source-record.js';
import type { WorkingSet } from './working-set.js';

export { sameValue };

export interface FieldChange {
  field: MemberField;
  old: unknown;
  new: unknown;
}

export type Clash = { type: 'conflict'; reason: ConflictReason; candidates: string[] };

/**
 * A key the member's next version would take that another member holds: a conflict, and
 * nothing of the record is applied.
 */
export function keyClash(member: Member, next: Member, set: WorkingSet, allowDuplicateEmails: boolean): Clash | undefined {
  if (next.cons_id && next.cons_id !== member.cons_id) {
    const holder = set.byConsId(next.cons_id);
    if (holder && holder.id !== member.id) return { type: 'conflict', reason: 'duplicate_cons_id', candidates: [member.id, holder.id] };
  }
  if (next.member_id && next.member_id !== member.member_id) {
    const holder = set.byMemberId(next.member_id);
    if (holder && holder.id !== member.id) return { type: 'conflict', reason: 'duplicate_member_id', candidates: [member.id, holder.id] };
  }
  if (!allowDuplicateEmails && next.email && next.email !== member.email) {
    const others = set.byEmail(next.email).filter((m) => m.id !== member.id);
    if (others.length > 0) return { type: 'conflict', reason: 'duplicate_email', candidates: [member.id, ...others.map((m) => m.id)] };
  }
  return undefined;
}

/** The fields whose value differs between two versions of a member. */
export function diffMembers(prev: Member | undefined, next: Member): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of MEMBER_FIELDS) {
    const a = prev ? (prev as unknown as Record<string, unknown>)[field] : undefined;
    const b = (next as unknown as Record<string, unknown>)[field];
    if (!sameValue(a ?? null, b ?? null)) changes.push({ field, old: a ?? null, new: b ?? null });
  }
  return changes;
}
