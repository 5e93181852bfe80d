/**
 * Decides one batch of records in input order against a WorkingSet: each record sees
 * the members earlier records created or changed. Pure: returns what to write.
 */
import type { ConflictReason, MatchRule, Member, NormalizedRecord, RecordRef, RunCounts } from '../types.js';
import { decideMatch } from './match.js';
import { createMember, mergeRecord, type FieldChange, type MergeContext } from './merge.js';
import type { WorkingSet } from './working-set.js';

export interface ChangeEntry {
  memberId: string;
  rule: MatchRule;
  ref: RecordRef;
  field: string;
  old: unknown;
  new: unknown;
}

export interface LinkEntry {
  connection: string;
  externalId: string;
  memberId: string;
  rule: MatchRule;
}

export interface ConflictEntry {
  reason: ConflictReason;
  candidates: string[];
  ref: RecordRef;
  record: Record<string, unknown>;
}

export interface RejectEntry {
  ref: RecordRef;
  reason: string;
  raw: Record<string, unknown>;
}

export interface BatchOutcome {
  created: Map<string, Member>;
  updated: Map<string, Member>;
  links: LinkEntry[];
  changes: ChangeEntry[];
  conflicts: ConflictEntry[];
  rejects: RejectEntry[];
  counts: Omit<RunCounts, 'rows'>;
  /**
   * Records (by fingerprint) that the batch's final state has absorbed: each matched or
   * created one member, carries an identity key and every one it carries is that member's, and no later
   * record of the batch changed the member. Applied again to that member while it is
   * unchanged, such a record changes nothing (only with `ctx.settle`).
   */
  settled: { fp: string; memberId: string }[];
}

export interface DecideContext extends MergeContext {
  connection?: string;
  newId(): string;
  /** report `settled` records (those with a fingerprint) */
  settle?: boolean;
}

/**
 * A record to decide (`fp`: its fingerprint, for `settled`); a record that a fingerprint
 * says the member `seen` already absorbed, unchanged since — it counts as unchanged
 * without being decided; or a record rejected before this stage.
 */
export type BatchItem =
  | { ok: true; record: NormalizedRecord; fp?: string; seen?: undefined }
  | { ok: true; seen: string; record?: undefined }
  | { ok: false; ref: RecordRef; reason: string; raw: Record<string, unknown> };

export function decideBatch(items: BatchItem[], set: WorkingSet, ctx: DecideContext): BatchOutcome {
  const out: BatchOutcome = {
    created: new Map(),
    updated: new Map(),
    links: [],
    changes: [],
    conflicts: [],
    rejects: [],
    counts: { created: 0, updated: 0, unchanged: 0, conflicts: 0, rejected: 0 },
    settled: [],
  };
  // for `settled`: the records that reached a member, and the last record that changed each
  const reached: { index: number; fp: string; memberId: string; record: NormalizedRecord }[] = [];
  const lastChange = new Map<string, number>();
  let index = -1;
  const conflict = (record: NormalizedRecord, reason: ConflictReason, candidates: string[]) => {
    out.conflicts.push({ reason, candidates, ref: record.ref, record: { values: record.values, raw: record.raw } });
    out.counts.conflicts++;
  };
  for (const item of items) {
    index++;
    if (!item.ok) {
      out.rejects.push({ ref: item.ref, reason: item.reason, raw: item.raw });
      out.counts.rejected++;
      continue;
    }
    if (item.seen !== undefined) {
      out.counts.unchanged++;
      continue;
    }
    const record = item.record;
    const settle = ctx.settle && item.fp !== undefined;
    const externalId = ctx.connection ? record.ref.externalId : undefined;
    const decision = decideMatch(record, set, { connection: ctx.connection, allowDuplicateEmails: ctx.allowDuplicateEmails });
    if (decision.type === 'conflict') {
      conflict(record, decision.reason, decision.candidates);
      continue;
    }
    if (decision.type === 'new') {
      const member = createMember(ctx.newId(), record, ctx);
      set.add(member);
      out.created.set(member.id, member);
      out.counts.created++;
      if (settle) {
        lastChange.set(member.id, index);
        reached.push({ index, fp: item.fp!, memberId: member.id, record });
      }
      // The creation is one entry; the initial values are the member row as that run left
      // it (its later changes carry their old values), so no snapshot is copied here.
      out.changes.push({ memberId: member.id, rule: 'new', ref: record.ref, field: '_created', old: null, new: null });
      if (externalId && ctx.connection) {
        set.addLink(ctx.connection, externalId, member.id);
        out.links.push({ connection: ctx.connection, externalId, memberId: member.id, rule: 'new' });
      }
      continue;
    }
    const merged = mergeRecord(decision.member, record, set, ctx);
    if (merged.type === 'conflict') {
      conflict(record, merged.reason, merged.candidates);
      continue;
    }
    const gainsLink = Boolean(externalId && ctx.connection && decision.rule !== 'link');
    if (gainsLink && externalId && ctx.connection) {
      set.addLink(ctx.connection, externalId, merged.member.id);
      out.links.push({ connection: ctx.connection, externalId, memberId: merged.member.id, rule: decision.rule });
    }
    if (settle) {
      if (merged.changes.length > 0) lastChange.set(merged.member.id, index);
      reached.push({ index, fp: item.fp!, memberId: merged.member.id, record });
    }
    if (merged.changes.length === 0 && !gainsLink) {
      out.counts.unchanged++;
      continue;
    }
    out.counts.updated++;
    if (merged.changes.length > 0) {
      set.replace(merged.member);
      if (out.created.has(merged.member.id)) out.created.set(merged.member.id, merged.member);
      else out.updated.set(merged.member.id, merged.member);
      for (const c of merged.changes) out.changes.push(changeEntry(merged.member.id, decision.rule, record.ref, c));
    }
  }
  for (const r of reached) {
    if ((lastChange.get(r.memberId) ?? -1) > r.index) continue;
    const m = set.members.get(r.memberId);
    const v = r.record.values;
    // a record without an identity key makes a new member every time: never settled
    if (!v.cons_id && !v.member_id && !v.email) continue;
    if (!m || (v.cons_id && v.cons_id !== m.cons_id) || (v.member_id && v.member_id !== m.member_id) || (v.email && v.email !== m.email)) continue;
    out.settled.push({ fp: r.fp, memberId: r.memberId });
  }
  return out;
}

function changeEntry(memberId: string, rule: MatchRule, ref: RecordRef, c: FieldChange): ChangeEntry {
  return { memberId, rule, ref, field: c.field, old: c.old, new: c.new };
}
