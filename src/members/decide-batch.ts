/**
 * Decides one batch of records in input order against a WorkingSet: each record sees
 * the members and source records earlier records created or changed. Pure: returns what
 * to write.
 *
 * A record is applied to its source record (values over the ones held, each change
 * stamped), and the member is computed again from all its source records (survivorship).
 */
import type { ConflictReason, MatchRule, Member, NormalizedRecord, RecordRef, RunCounts } from '../types.js';
import { decideMatch } from './match.js';
import { diffMembers, keyClash, type FieldChange } from './merge.js';
import { applyToSource, holdsInput, srKey, withInput, type SourceRecord, type Stamps } from './source-record.js';
import { computeMember, type TrustOf } from './survivorship.js';
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
  /** the record's key at its source: the same record refused again updates its open conflict */
  key: string;
  /** fingerprint of the record's input */
  fp: string;
}

export interface RejectEntry {
  ref: RecordRef;
  reason: string;
  raw: Record<string, unknown>;
}

/** A source record the batch wrote, with what the store held before the batch (none: new). */
export interface SourceWrite {
  sr: SourceRecord;
  before?: SourceRecord;
}

export interface BatchOutcome {
  created: Map<string, Member>;
  updated: Map<string, Member>;
  links: LinkEntry[];
  /** by srKey(source, key) */
  sources: Map<string, SourceWrite>;
  changes: ChangeEntry[];
  conflicts: ConflictEntry[];
  rejects: RejectEntry[];
  counts: Omit<RunCounts, 'rows'>;
}

export interface DecideContext {
  /** who sends the records: a connection name or `file:<name>` */
  source: string;
  /** the connection whose external ids make links */
  connection?: string;
  runId: number;
  trustOf: TrustOf;
  allowDuplicateEmails: boolean;
  newId(): string;
  stamps: Stamps;
}

/**
 * A record to decide, with its key at its source and the fingerprint of its input; a
 * record whose source record holds that fingerprint already (`seen`: its srKey) — it
 * (`seen`: the source record's id) counts as unchanged without being decided; or a record
 * rejected before this stage.
 */
export type BatchItem =
  | { ok: true; record: NormalizedRecord; key: string; fp: string; seen?: undefined }
  | { ok: true; seen: number; record?: undefined }
  | { ok: false; ref: RecordRef; reason: string; raw: Record<string, unknown> };

export function emptyOutcome(): BatchOutcome {
  return {
    created: new Map(),
    updated: new Map(),
    links: [],
    sources: new Map(),
    changes: [],
    conflicts: [],
    rejects: [],
    counts: { created: 0, updated: 0, unchanged: 0, conflicts: 0, rejected: 0 },
  };
}

export function decideBatch(items: BatchItem[], set: WorkingSet, ctx: DecideContext): BatchOutcome {
  const out = emptyOutcome();
  for (const item of items) {
    if (!item.ok) {
      out.rejects.push({ ref: item.ref, reason: item.reason, raw: item.raw });
      out.counts.rejected++;
    } else if (item.seen !== undefined) {
      out.counts.unchanged++;
    } else {
      decideOne(item.record, item.key, item.fp, set, ctx, out);
    }
  }
  return out;
}

function conflict(out: BatchOutcome, record: NormalizedRecord, key: string, fp: string, reason: ConflictReason, candidates: string[]): void {
  out.conflicts.push({ reason, candidates, ref: record.ref, record: { values: record.values, raw: record.raw }, key, fp });
  out.counts.conflicts++;
}

function writeSource(out: BatchOutcome, set: WorkingSet, sr: SourceRecord, before: SourceRecord | undefined): void {
  const k = srKey(sr.source, sr.key);
  const prior = out.sources.get(k);
  out.sources.set(k, { sr, before: prior ? prior.before : before });
  set.putSource(sr);
}

function decideOne(record: NormalizedRecord, key: string, fp: string, set: WorkingSet, ctx: DecideContext, out: BatchOutcome): void {
  const externalId = ctx.connection ? record.ref.externalId : undefined;
  const decision = decideMatch(record, set, {
    connection: ctx.connection,
    source: ctx.source,
    sourceKey: key,
    allowDuplicateEmails: ctx.allowDuplicateEmails,
  });
  if (decision.type === 'conflict') return conflict(out, record, key, fp, decision.reason, decision.candidates);
  const existing = set.bySource(ctx.source, key);
  const stamp = ctx.stamps.next(record.ref.changedAt);
  if (decision.type === 'new') {
    const id = ctx.newId();
    const applied = applyToSource(undefined, record, stamp);
    const sr: SourceRecord = { source: ctx.source, key, memberId: id, values: applied.values, stamps: applied.stamps, hash: fp, firstRunId: ctx.runId, lastRunId: ctx.runId };
    const member = computeMember({ id, created_run_id: ctx.runId }, [sr], ctx.trustOf);
    set.add(member);
    writeSource(out, set, sr, undefined);
    out.created.set(id, member);
    out.counts.created++;
    // The creation is one entry; the initial values are the member row as that run left
    // it (its later changes carry their old values), so no snapshot is copied here.
    out.changes.push({ memberId: id, rule: 'new', ref: record.ref, field: '_created', old: null, new: null });
    if (externalId && ctx.connection) {
      set.addLink(ctx.connection, externalId, id);
      out.links.push({ connection: ctx.connection, externalId, memberId: id, rule: 'new' });
    }
    return;
  }
  const member = decision.member;
  const applied = applyToSource(existing?.memberId === member.id ? existing : undefined, record, stamp);
  const gainsLink = Boolean(externalId && ctx.connection && !set.byLink(ctx.connection, externalId));
  if (existing && existing.memberId === member.id && !applied.changed) {
    // the same values as the source sent before: nothing changes but what it last sent
    if (!holdsInput(existing.hash, fp)) writeSource(out, set, { ...existing, hash: withInput(existing.hash, fp), lastRunId: ctx.runId }, existing);
    if (gainsLink) addLink(out, set, ctx, externalId!, member.id, decision.rule);
    out.counts[gainsLink ? 'updated' : 'unchanged']++;
    return;
  }
  const sr: SourceRecord = {
    ...(existing ?? { source: ctx.source, key, firstRunId: ctx.runId }),
    memberId: member.id,
    values: applied.values,
    stamps: applied.stamps,
    hash: fp,
    lastRunId: ctx.runId,
  };
  const others = set.sourceRecordsOf(member.id).filter((x) => !(x.source === sr.source && x.key === sr.key));
  const next = computeMember(member, [...others, sr], ctx.trustOf);
  const clash = keyClash(member, next, set, ctx.allowDuplicateEmails);
  if (clash) return conflict(out, record, key, fp, clash.reason, clash.candidates);
  writeSource(out, set, sr, existing);
  const changes = diffMembers(member, next);
  if (gainsLink) addLink(out, set, ctx, externalId!, member.id, decision.rule);
  if (changes.length === 0 && !gainsLink) {
    out.counts.unchanged++;
    return;
  }
  out.counts.updated++;
  if (changes.length > 0) {
    set.replace(next);
    if (out.created.has(next.id)) out.created.set(next.id, next);
    else out.updated.set(next.id, next);
    for (const c of changes) out.changes.push(changeEntry(next.id, decision.rule, record.ref, c));
  }
}

function addLink(out: BatchOutcome, set: WorkingSet, ctx: DecideContext, externalId: string, memberId: string, rule: MatchRule): void {
  set.addLink(ctx.connection!, externalId, memberId);
  out.links.push({ connection: ctx.connection!, externalId, memberId, rule });
}

function changeEntry(memberId: string, rule: MatchRule, ref: RecordRef, c: FieldChange): ChangeEntry {
  return { memberId, rule, ref, field: c.field, old: c.old, new: c.new };
}
