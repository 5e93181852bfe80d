/**
 * What reverting a run does to one page of its source records, decided from the facts the
 * store gave: each source record the run changed goes back to its state before the run,
 * and each it created goes, unless another run changed it since. The members they belong
 * to are then computed again (src/store/source-moves.ts).
 */
import type { SourceRecord } from '../members/source-record.js';
import type { RevertFacts, SourceKey } from '../store/revert-repo.js';
import { pairKey } from '../store/revert-repo.js';
import type { SourceOp } from '../store/source-moves.js';
import { MEMBER_FIELDS } from '../types.js';
import { canonicalJson } from './push-plan.js';

export interface RevertItem {
  member_id: string;
  member: string;
  action: 'restore' | 'skip' | 'remove' | 'keep';
  field?: string;
  /** the value now */
  from?: unknown;
  /** the value before the run */
  to?: unknown;
  reason?: string;
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** The fields on which two states of a source record differ. */
export function differingFields(a: SourceRecord | undefined, b: SourceRecord | undefined): string[] {
  return MEMBER_FIELDS.filter((f) => !same(a?.values[f], b?.values[f]));
}

export interface RevertPagePlan {
  ops: SourceOp[];
  /** records changed since by another run: left as they are */
  skipped: { sr: SourceRecord; fields: string[]; run: number }[];
}

export function planRevertPage(keys: SourceKey[], facts: RevertFacts): RevertPagePlan {
  const plan: RevertPagePlan = { ops: [], skipped: [] };
  for (const { source, source_key } of keys) {
    const k = pairKey(source, source_key);
    const current = facts.current.get(k);
    const before = facts.before.get(k);
    if (!current && !before) continue; // created by the run and gone since
    const later = facts.laterRun.get(k);
    if (later !== undefined) {
      if (current) plan.skipped.push({ sr: current, fields: differingFields(before, current), run: later });
      continue;
    }
    plan.ops.push({ current, target: before });
  }
  return plan;
}
