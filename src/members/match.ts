/**
 * Identity rules 0-5 (DESIGN.md "Identity rules"): which member, if any, a record is.
 * Pure: the candidates come from a WorkingSet the pipeline filled.
 */
import type { ConflictReason, MatchRule, Member, NormalizedRecord } from '../types.js';
import type { WorkingSet } from './working-set.js';

export type MatchDecision =
  | { type: 'match'; member: Member; rule: Exclude<MatchRule, 'new'> }
  | { type: 'new' }
  | { type: 'conflict'; reason: ConflictReason; candidates: string[] };

export interface MatchContext {
  /** the connection the record came from, for rule 0 (links) */
  connection?: string;
  /** the record's source and its key there, for rule 0 (the source record) */
  source?: string;
  sourceKey?: string;
  allowDuplicateEmails: boolean;
}

export function decideMatch(record: NormalizedRecord, set: WorkingSet, ctx: MatchContext): MatchDecision {
  const v = record.values;
  let candidate: Member | undefined;
  let rule: Exclude<MatchRule, 'new'> | undefined;
  // Rule 0: the record's source has sent it before (its source record), or its external id
  // is linked (a link a push learned has no source record).
  if (ctx.source && ctx.sourceKey) {
    const sr = set.bySource(ctx.source, ctx.sourceKey);
    candidate = sr ? set.members.get(sr.memberId) : undefined;
  }
  if (!candidate && ctx.connection && record.ref.externalId) candidate = set.byLink(ctx.connection, record.ref.externalId);
  if (candidate) rule = 'link';
  // Rule 1: cons_id. A cons_id that matches nothing falls through to member_id.
  if (!candidate && v.cons_id) {
    candidate = set.byConsId(v.cons_id);
    if (candidate) rule = 'cons_id';
  }
  // Rule 2: member_id.
  if (!candidate && v.member_id) {
    candidate = set.byMemberId(v.member_id);
    if (candidate) rule = 'member_id';
  }
  // Rule 3: email; more than one holder is ambiguous.
  if (!candidate && v.email) {
    const holders = set.byEmail(v.email);
    if (holders.length > 1) {
      return { type: 'conflict', reason: 'ambiguous_email', candidates: holders.map((m) => m.id) };
    }
    if (holders.length === 1) {
      candidate = holders[0];
      rule = 'email';
    }
  }
  // Rule 5: nobody.
  if (!candidate || !rule) return { type: 'new' };
  // Rule 4: the guard, whichever rule found the candidate. Keys both sides carry must agree:
  // an identity key is filled when empty, never silently replaced.
  if (v.cons_id && candidate.cons_id && v.cons_id !== candidate.cons_id) {
    return { type: 'conflict', reason: 'cons_id_mismatch', candidates: [candidate.id] };
  }
  if (v.member_id && candidate.member_id && v.member_id !== candidate.member_id) {
    return { type: 'conflict', reason: 'member_id_mismatch', candidates: [candidate.id] };
  }
  return { type: 'match', member: candidate, rule };
}
