/**
 * Survivorship (DESIGN.md "Identity rules"): a member's fields computed from its source
 * records. Per field, the non-empty value of the source with the highest trust; between
 * equal trust, the value changed most recently at its source; empty never erases. Pure.
 */
import { MEMBER_FIELDS, type Member } from '../types.js';
import { stampOf, type SourceRecord } from './source-record.js';

export type TrustOf = (source: string) => number;

/** Which source record gives each field (`other.<key>` for custom values). */
export type Winners = Record<string, SourceRecord>;

function better(a: SourceRecord, b: SourceRecord | undefined, field: string, trustOf: TrustOf): boolean {
  if (!b) return true;
  const ta = trustOf(a.source);
  const tb = trustOf(b.source);
  if (ta !== tb) return ta > tb;
  const sa = stampOf(a, field);
  const sb = stampOf(b, field);
  if (sa !== sb) return sa > sb;
  // a total order, so that the result never depends on the order records are listed in
  return a.source === b.source ? a.key < b.key : a.source < b.source;
}

function onlySource(r: SourceRecord): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [f, v] of Object.entries(r.values)) {
    if (f === 'other') {
      const o = Object.entries(v as Record<string, string>).filter(([, x]) => x !== undefined && x !== '');
      if (o.length > 0) values.other = Object.fromEntries(o.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    } else if (present(v)) values[f] = v;
  }
  return values;
}

const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);

/** The member's values and, for each, the source record that gives it. */
export function survive(records: readonly SourceRecord[], trustOf: TrustOf): { values: Record<string, unknown>; winners: Winners } {
  const winners: Winners = {};
  const values: Record<string, unknown> = {};
  for (const field of MEMBER_FIELDS) {
    if (field === 'other') continue;
    let best: SourceRecord | undefined;
    for (const r of records) {
      if (present((r.values as Record<string, unknown>)[field]) && better(r, best, field, trustOf)) best = r;
    }
    if (best) {
      winners[field] = best;
      values[field] = (best.values as Record<string, unknown>)[field];
    }
  }
  const keys = new Set<string>();
  for (const r of records) for (const k of Object.keys(r.values.other ?? {})) keys.add(k);
  if (keys.size > 0) {
    const other: Record<string, string> = {};
    for (const k of [...keys].sort()) {
      let best: SourceRecord | undefined;
      for (const r of records) {
        const x = r.values.other?.[k];
        if (x !== undefined && x !== '' && better(r, best, `other.${k}`, trustOf)) best = r;
      }
      if (best) {
        other[k] = best.values.other![k];
        winners[`other.${k}`] = best;
      }
    }
    values.other = other;
  }
  return { values, winners };
}

/** The member computed from its source records (id and creating run kept). */
export function computeMember(base: Pick<Member, 'id' | 'created_run_id'>, records: readonly SourceRecord[], trustOf: TrustOf): Member {
  // most members have one source: its values are the member's
  const values = records.length === 1 ? onlySource(records[0]) : survive(records, trustOf).values;
  const m = { ...values, id: base.id, created_run_id: base.created_run_id, provenance: {} } as Member;
  if (m.weight === undefined) m.weight = 1;
  return m;
}
