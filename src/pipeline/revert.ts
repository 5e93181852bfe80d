/**
 * Revert a run: put every source record it (and its child runs, for a migrate) created or
 * changed back to its state before the run, unless another run changed it since, and
 * compute their members again; a member the run created that is left with no source
 * record is removed, unless it was pushed or linked since. Recorded as a run (kind
 * 'revert') with its own history, so a revert can be reverted, and change-log rows, so
 * the next push sends the restored values.
 *
 * Each page is one transaction under the members lock, so a revert never interleaves
 * with an import or pull deciding the same members.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TrustOf } from '../members/survivorship.js';
import { takeIngestLock } from '../store/members-repo.js';
import { revertStatuses } from '../store/lifecycle-repo.js';
import { iterateRevertKeys, loadRevertFacts, type SourceKey } from '../store/revert-repo.js';
import { addRunCounts, createRun, finishRun, getRun } from '../store/runs-repo.js';
import { keyClashes, loadMembers, planMoves, writeMoves, type SourceOp } from '../store/source-moves.js';
import type { Member } from '../types.js';
import { trustResolver } from './ingest.js';
import { memberLabel } from './push-plan.js';
import { planRevertPage, type RevertItem } from './revert-plan.js';

export type { RevertItem } from './revert-plan.js';

export interface RevertOptions {
  db: Knex;
  log: Logger;
  /** trust ranks for computing members again @defaultValue every source 0 */
  config?: Readonly<Config>;
  dryRun?: boolean;
  /** matching.allowDuplicateEmails: a restored e-mail may then be shared */
  allowDuplicateEmails?: boolean;
  /** source records per transaction @defaultValue 500 */
  batchSize?: number;
  onItem?(item: RevertItem): void;
}

export interface RevertSummary {
  run_id: number | null;
  reverted_run_id: number;
  fields_restored: number;
  fields_skipped: number;
  members_removed: number;
  members_kept: number;
  /** members whose status (removed, active) the run changed, put back */
  statuses_restored?: number;
  dry_run: boolean;
}

interface PageCtx {
  runIds: number[];
  runId: number;
  target: number;
  dry: boolean;
  allowDuplicateEmails: boolean;
  trustOf: TrustOf;
}

function snapshotOf(m: Member): Record<string, unknown> {
  const { id: _i, provenance: _p, created_run_id: _c, created_at: _a, updated_at: _u, ...values } = m;
  return values;
}

async function revertPage(db: Knex | Knex.Transaction, keys: SourceKey[], c: PageCtx): Promise<RevertItem[]> {
  if (!c.dry) await takeIngestLock(db);
  const facts = await loadRevertFacts(db, c.runIds, keys);
  const plan = planRevertPage(keys, facts);
  const items: RevertItem[] = [];
  const label = (id: string, m?: Member) => (m ? memberLabel(m) : id);
  let ops = plan.ops;
  let outcomes = await planMoves(db, ops, c.trustOf);
  // A member the run created, left with no source: removed, unless it went out since (its
  // source records stay then). A member whose restored keys another holds: left as it is.
  const held = new Set<string>();
  const reasons = new Map<string, RevertItem>();
  for (const [id, o] of outcomes) {
    if (o.next || !o.prev) continue;
    const created = o.prev.created_run_id !== null && c.runIds.includes(o.prev.created_run_id);
    const to = facts.pushedTo.get(id);
    if (created && !to && !facts.laterLinks.has(id)) continue;
    held.add(id);
    const reason = !created ? 'no source record would be left to it' : to ? `created by the run, pushed since to ${to.join(', ')} (remove it there first)` : 'created by the run, linked since by another run';
    reasons.set(id, { member_id: id, member: label(id, o.prev), action: 'keep', reason });
  }
  for (const [id, why] of await keyClashes(db, outcomes, c.allowDuplicateEmails)) {
    held.add(id);
    for (const ch of outcomes.get(id)!.changes) items.push({ member_id: id, member: label(id, outcomes.get(id)!.prev), action: 'skip', field: ch.field, from: ch.old, to: ch.new, reason: why });
  }
  if (held.size > 0) {
    const touches = (op: SourceOp) => held.has(op.current?.memberId ?? '') || held.has(op.target?.memberId ?? '');
    ops = ops.filter((op) => !touches(op));
    outcomes = await planMoves(db, ops, c.trustOf);
  }
  items.push(...reasons.values());
  const skippedMembers = await loadMembers(db, [...new Set(plan.skipped.map((x) => x.sr.memberId))]);
  for (const s of plan.skipped) {
    const m = skippedMembers.get(s.sr.memberId);
    for (const f of s.fields) items.push({ member_id: s.sr.memberId, member: label(s.sr.memberId, m), action: 'skip', field: f, reason: `changed again since by run ${s.run}` });
  }
  const removed: { id: string; snapshot: Record<string, unknown> }[] = [];
  for (const [id, o] of outcomes) {
    if (!o.next && o.prev) {
      removed.push({ id, snapshot: snapshotOf(o.prev) });
      items.push({ member_id: id, member: label(id, o.prev), action: 'remove' });
    }
    for (const ch of o.next && o.prev ? o.changes : []) items.push({ member_id: id, member: label(id, o.prev), action: 'restore', field: ch.field, from: ch.old, to: ch.new });
  }
  if (c.dry) return items;
  await writeMoves(db as Knex.Transaction, c.runId, ops, outcomes, removed, { source: 'revert', ref: `run ${c.target}`, rule: 'revert' });
  const updated = [...outcomes.values()].filter((o) => o.prev && o.next && o.changes.length > 0).length;
  await addRunCounts(db, c.runId, { rows: keys.length, updated, unchanged: keys.length - ops.length });
  return items;
}

export async function revertRun(target: number, opts: RevertOptions): Promise<RevertSummary> {
  const run = Number.isInteger(target) ? await getRun(opts.db, target) : undefined;
  if (!run) throw new InputError(`no run ${target} (member-sync runs lists them)`);
  if (run.status === 'running') throw new InputError(`run ${target} is still running; revert it when it has finished`);
  if (run.kind === 'push') throw new InputError(`run ${target} is a push: it changed no member, so there is nothing to revert`);
  if (run.kind === 'erase') throw new InputError(`run ${target} erased a person: an erasure cannot be reverted (their data is gone)`);
  const children = await opts.db('runs').where({ parent_run_id: target }).pluck('id');
  const runIds = [target, ...children.map(Number)];
  const dry = Boolean(opts.dryRun);
  const runId = dry ? 0 : await createRun(opts.db, { kind: 'revert', source: `run:${target}`, details: { reverted_run_id: target, run_ids: runIds } });
  const s: RevertSummary = { run_id: dry ? null : runId, reverted_run_id: target, fields_restored: 0, fields_skipped: 0, members_removed: 0, members_kept: 0, dry_run: dry };
  const trustOf: TrustOf = opts.config ? trustResolver(opts.config) : () => 0;
  const ctx: PageCtx = { runIds, runId, target, dry, allowDuplicateEmails: Boolean(opts.allowDuplicateEmails ?? opts.config?.matching.allowDuplicateEmails), trustOf };
  const log = opts.log.child({ run: runId || undefined, reverting: target });
  log.info({ dryRun: dry }, 'revert started');
  try {
    for await (const keys of iterateRevertKeys(opts.db, runIds, opts.batchSize ?? 500)) {
      const items = dry ? await revertPage(opts.db, keys, ctx) : await opts.db.transaction((trx) => revertPage(trx, keys, ctx));
      for (const i of items) {
        if (i.action === 'restore') s.fields_restored++;
        else if (i.action === 'skip') s.fields_skipped++;
        else if (i.action === 'remove') s.members_removed++;
        else s.members_kept++;
        opts.onItem?.(i);
      }
    }
    // status changes (removed, active again) go back as they were, and source records the run saw gone are listed again
    if (!dry) {
      s.statuses_restored = await opts.db.transaction(async (trx) => {
        await takeIngestLock(trx);
        return revertStatuses(trx, runIds, runId, target);
      });
    }
    if (!dry) {
      const { run_id: _r, dry_run: _d, ...counts } = s;
      await finishRun(opts.db, runId, 'succeeded', { details: counts });
    }
    log.info({ ...s }, 'revert finished');
    return s;
  } catch (err) {
    if (!dry) await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}
