/**
 * Identity rule 6: merging a record into the member it matched, and building a new
 * member from a record that matched nobody. Pure.
 */
import { MEMBER_FIELDS, type ConflictReason, type Member, type MemberField, type MemberValues, type NormalizedRecord } from '../types.js';
import type { WorkingSet } from './working-set.js';

export interface FieldChange {
  field: MemberField;
  old: unknown;
  new: unknown;
}

export interface MergeContext {
  /** who sets the fields: a connection name or `file:<name>` */
  source: string;
  sourceTrust: number;
  /** trust rank of a source */
  trustOf(source: string): number;
  /** the source of an earlier run (connection or `file:<name>`) */
  sourceOfRun(runId: number): string | undefined;
  runId: number;
  allowDuplicateEmails: boolean;
}

export type MergeResult =
  | { type: 'merged'; member: Member; changes: FieldChange[] }
  | { type: 'conflict'; reason: ConflictReason; candidates: string[] };

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    return ka.length === kb.length && ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
  }
  return false;
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

/** A key the record would give the member that another member already holds. */
function keyClash(member: Member, next: MemberValues, set: WorkingSet, allowDuplicateEmails: boolean): MergeResult | undefined {
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

export function mergeRecord(member: Member, record: NormalizedRecord, set: WorkingSet, ctx: MergeContext): MergeResult {
  const next: Member = { ...member, provenance: { ...member.provenance } };
  const changes: FieldChange[] = [];
  const v = record.values as Record<string, unknown>;
  for (const field of MEMBER_FIELDS) {
    let incoming = v[field];
    if (isEmpty(incoming)) continue; // empty or missing never erases
    const current = (member as unknown as Record<string, unknown>)[field];
    if (field === 'other') incoming = { ...((current as Record<string, string> | null) ?? {}), ...(incoming as Record<string, string>) };
    if (sameValue(current, incoming)) continue;
    const setBy = member.provenance[field] ?? (current === undefined ? null : member.created_run_id);
    const setter = setBy === null || setBy === ctx.runId ? undefined : ctx.sourceOfRun(setBy);
    if (setter !== undefined && setter !== ctx.source && ctx.trustOf(setter) > ctx.sourceTrust) continue;
    (next as unknown as Record<string, unknown>)[field] = incoming;
    if (ctx.runId === member.created_run_id) delete next.provenance[field];
    else next.provenance[field] = ctx.runId;
    changes.push({ field, old: current ?? null, new: incoming });
  }
  const clash = keyClash(member, next, set, ctx.allowDuplicateEmails);
  if (clash) return clash;
  return { type: 'merged', member: next, changes };
}

/** A new member from a record that matched nobody (rule 5). */
export function createMember(id: string, record: NormalizedRecord, ctx: MergeContext): Member {
  const member: Member = { id, provenance: {}, created_run_id: ctx.runId };
  const v = record.values as Record<string, unknown>;
  for (const field of MEMBER_FIELDS) {
    const value = v[field];
    if (isEmpty(value)) continue;
    (member as unknown as Record<string, unknown>)[field] = value;
  }
  if (member.weight === undefined) member.weight = 1;
  return member;
}
