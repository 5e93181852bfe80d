/**
 * Revert a run: put back every field it (and its child runs, for a migrate) changed,
 * unless the field changed again since, and remove the members it created that nothing
 * touched since. Recorded as a run (kind 'revert') whose change-log rows are ordinary
 * changes, so the next push sends the restored values.
 *
 * Each batch is one transaction under the lock ingest takes per batch, so a revert never
 * interleaves with an import or pull deciding the same members.
 */
import type { Knex } from 'knex';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { takeIngestLock } from '../store/members-repo.js';
import { iterateChangedMemberIds, keyHolders, loadRevertFacts, pairKey, provenanceBefore, writeRevert } from '../store/revert-repo.js';
import { addRunCounts, createRun, finishRun, getRun } from '../store/runs-repo.js';
import type { Member } from '../types.js';
import { planRevertBatch, type RevertItem } from './revert-plan.js';

const KEYS = ['cons_id', 'member_id', 'email'] as const;

export interface RevertOptions {
  db: Knex;
  log: Logger;
  dryRun?: boolean;
  /** matching.allowDuplicateEmails: a restored e-mail may then be shared */
  allowDuplicateEmails?: boolean;
  /** members per transaction @defaultValue 500 */
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
  dry_run: boolean;
}

interface BatchCtx {
  runIds: number[];
  runId: number;
  target: number;
  dry: boolean;
  allowDuplicateEmails: boolean;
}

async function revertBatch(db: Knex | Knex.Transaction, ids: string[], c: BatchCtx): Promise<RevertItem[]> {
  const { runIds, runId, target, dry } = c;
  if (!dry) await takeIngestLock(db);
  const facts = await loadRevertFacts(db, runIds, ids);
  const plan = planRevertBatch(ids, facts);
  // a key restored onto a value another member holds now would break its unique index
  const held = new Map<string, Map<string, string[]>>();
  for (const k of KEYS) {
    held.set(k, await keyHolders(db, k, plan.restores.filter((r) => r.field === k && typeof r.value === 'string').map((r) => r.value as string)));
  }
  const blocked = new Set<string>();
  for (const r of plan.restores) {
    const holders = held.get(r.field)?.get(r.value as string)?.filter((h) => h !== r.memberId) ?? [];
    if (holders.length > 0 && !(r.field === 'email' && c.allowDuplicateEmails)) blocked.add(pairKey(r.memberId, r.field));
  }
  const items = plan.items.map((i) =>
    i.action === 'restore' && blocked.has(pairKey(i.member_id, i.field!)) ? { ...i, action: 'skip' as const, reason: `${i.field} ${JSON.stringify(i.to)} is held by another member now` } : i,
  );
  const restores = plan.restores.filter((r) => !blocked.has(pairKey(r.memberId, r.field)));
  if (dry) return items;
  const prov = await provenanceBefore(db, restores.map((r) => ({ member_id: r.memberId, field: r.field, first_id: r.firstId })));
  const updated = new Map<string, Member>();
  for (const r of restores) {
    const m = updated.get(r.memberId) ?? { ...facts.members.get(r.memberId)!, provenance: { ...facts.members.get(r.memberId)!.provenance } };
    (m as unknown as Record<string, unknown>)[r.field] = r.value;
    const p = r.value === null ? undefined : prov.get(pairKey(r.memberId, r.field));
    // a field last set by the run that created the member needs no entry
    if (p !== undefined && p !== m.created_run_id) m.provenance[r.field] = p;
    else delete m.provenance[r.field];
    updated.set(r.memberId, m);
  }
  await writeRevert(
    db as Knex.Transaction,
    {
      updated: [...updated.values()],
      removed: plan.removals.map((r) => r.memberId),
      changes: [
        ...restores.map((r) => ({ member_id: r.memberId, field: r.field, old: r.current, new: r.value })),
        ...plan.removals.map((r) => ({ member_id: r.memberId, field: '_deleted', old: r.snapshot, new: null })),
      ],
    },
    runId,
    `run ${target}`,
  );
  await addRunCounts(db, runId, { rows: ids.length, updated: updated.size, unchanged: ids.length - updated.size - plan.removals.length });
  return items;
}

export async function revertRun(target: number, opts: RevertOptions): Promise<RevertSummary> {
  const run = Number.isInteger(target) ? await getRun(opts.db, target) : undefined;
  if (!run) throw new InputError(`no run ${target} (member-sync runs lists them)`);
  if (run.status === 'running') throw new InputError(`run ${target} is still running; revert it when it has finished`);
  if (run.kind === 'push') throw new InputError(`run ${target} is a push: it changed no member, so there is nothing to revert`);
  const children = await opts.db('runs').where({ parent_run_id: target }).pluck('id');
  const runIds = [target, ...children.map(Number)];
  const dry = Boolean(opts.dryRun);
  const runId = dry ? 0 : await createRun(opts.db, { kind: 'revert', source: `run:${target}`, details: { reverted_run_id: target, run_ids: runIds } });
  const s: RevertSummary = { run_id: dry ? null : runId, reverted_run_id: target, fields_restored: 0, fields_skipped: 0, members_removed: 0, members_kept: 0, dry_run: dry };
  const ctx: BatchCtx = { runIds, runId, target, dry, allowDuplicateEmails: Boolean(opts.allowDuplicateEmails) };
  const log = opts.log.child({ run: runId || undefined, reverting: target });
  log.info({ dryRun: dry }, 'revert started');
  try {
    for await (const ids of iterateChangedMemberIds(opts.db, runIds, opts.batchSize ?? 500)) {
      const items = dry ? await revertBatch(opts.db, ids, ctx) : await opts.db.transaction((trx) => revertBatch(trx, ids, ctx));
      for (const i of items) {
        if (i.action === 'restore') s.fields_restored++;
        else if (i.action === 'skip') s.fields_skipped++;
        else if (i.action === 'remove') s.members_removed++;
        else s.members_kept++;
        opts.onItem?.(i);
      }
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
