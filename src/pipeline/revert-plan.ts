/**
 * What reverting a run does to one batch of members, decided from the facts the store
 * gave (no I/O): each field the run set changed goes back to its value before the run,
 * unless it changed again since; each member the run set created is removed, unless
 * something touched it since.
 */
import type { RevertFacts } from '../store/revert-repo.js';
import { pairKey } from '../store/revert-repo.js';
import { MEMBER_FIELDS } from '../types.js';
import { canonicalJson, memberLabel } from './push-plan.js';

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

export interface Restore {
  memberId: string;
  field: string;
  value: unknown;
  current: unknown;
  /** the run set's first change of this field, for the provenance before it */
  firstId: number;
}

export interface RevertBatchPlan {
  items: RevertItem[];
  restores: Restore[];
  removals: { memberId: string; snapshot: Record<string, unknown> }[];
}

const FIELDS = new Set<string>(MEMBER_FIELDS);
const same = (a: unknown, b: unknown): boolean => canonicalJson(a ?? null) === canonicalJson(b ?? null);

function snapshotOf(m: Record<string, unknown>): Record<string, unknown> {
  const { id: _i, provenance: _p, created_run_id: _c, created_at: _a, updated_at: _u, ...values } = m;
  return values;
}

export function planRevertBatch(memberIds: string[], facts: RevertFacts): RevertBatchPlan {
  const plan: RevertBatchPlan = { items: [], restores: [], removals: [] };
  const byMember = new Map<string, typeof facts.changes>();
  for (const c of facts.changes) byMember.set(c.member_id, [...(byMember.get(c.member_id) ?? []), c]);
  for (const id of memberIds) {
    const changes = byMember.get(id) ?? [];
    const member = facts.members.get(id);
    const label = member ? memberLabel(member) : id;
    const skip = (reason: string, field?: string) => plan.items.push({ member_id: id, member: label, action: 'skip', reason, ...(field ? { field } : {}) });
    if (!member) {
      skip('the member no longer exists');
      continue;
    }
    const created = changes.find((c) => c.field === '_created');
    if (created) {
      const later = facts.laterAny.get(id);
      const pushed = facts.pushedTo.get(id);
      const reason =
        later && later.id > created.id
          ? `created by the run, changed since by run ${later.run_id}`
          : pushed
            ? `created by the run, pushed since to ${pushed.join(', ')} (remove it there first)`
            : facts.laterLinks.has(id)
              ? 'created by the run, linked since by another run'
              : undefined;
      if (reason) plan.items.push({ member_id: id, member: label, action: 'keep', reason });
      else {
        plan.removals.push({ memberId: id, snapshot: snapshotOf(member as unknown as Record<string, unknown>) });
        plan.items.push({ member_id: id, member: label, action: 'remove' });
      }
      continue;
    }
    const fields = new Map<string, { first: (typeof changes)[number]; last: (typeof changes)[number] }>();
    for (const c of changes) {
      const f = fields.get(c.field);
      fields.set(c.field, { first: f?.first ?? c, last: c });
    }
    for (const [field, { first, last }] of fields) {
      if (!FIELDS.has(field)) {
        skip(field === '_deleted' ? 're-creating a removed member is not supported' : `unknown change ${field}`, field);
        continue;
      }
      const current = (member as unknown as Record<string, unknown>)[field] ?? null;
      const later = facts.laterChange.get(pairKey(id, field));
      if (later && later.id > last.id) {
        skip(`changed again since by run ${later.run_id}`, field);
        continue;
      }
      if (!same(current, last.new)) {
        skip('changed outside the change log since', field);
        continue;
      }
      if (same(current, first.old)) continue; // the run put it back itself
      if (field === 'weight' && (first.old === null || first.old === undefined)) {
        skip('weight cannot be empty', field);
        continue;
      }
      plan.restores.push({ memberId: id, field, value: first.old ?? null, current, firstId: first.id });
      plan.items.push({ member_id: id, member: label, action: 'restore', field, from: current, to: first.old ?? null });
    }
  }
  return plan;
}
