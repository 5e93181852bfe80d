/**
 * Source records (DESIGN.md "Vocabulary"): the last mapped values one source gave for one
 * person, kept so that a member can be computed from all of them, split, and re-decided.
 *
 * A source is a connection (key: the record's external id there) or a named file source
 * (`file:<name>`; key: the record's strongest identity key). Pure: no I/O.
 */
import { MEMBER_FIELDS, type MemberValues, type NormalizedRecord } from '../types.js';

export interface SourceRecord {
  /** the store's id, once written */
  id?: number;
  source: string;
  /** `ext:<external id>`, or `cons_id:…`, `member_id:…`, `email:…` (the strongest key) */
  key: string;
  memberId: string;
  /** canonical values as last seen; a value the source sent empty is kept (empty never erases) */
  values: MemberValues;
  /**
   * field (or `other.<key>`) -> when its value last changed at the source (see `Stamps`);
   * `*` stands for every field not listed (a record's first values all share one stamp,
   * kept once)
   */
  stamps: Record<string, number>;
  /**
   * fingerprints of the last inputs (up to 4) that left the values as they are: one of them
   * sent again changes nothing, and is skipped (see holdsInput)
   */
  hash: string;
  firstRunId: number;
  lastRunId: number;
}

/**
 * The key a record has at its source: a connection's external id when it carries one,
 * else its strongest identity key; undefined when it has neither (rejected no_identity_key).
 */
export function sourceKeyOf(values: Pick<MemberValues, 'cons_id' | 'member_id' | 'email'>, externalId: string | undefined): string | undefined {
  if (externalId) return `ext:${externalId}`;
  if (values.cons_id) return `cons_id:${values.cons_id}`;
  if (values.member_id) return `member_id:${values.member_id}`;
  if (values.email) return `email:${values.email}`;
  return undefined;
}

export const srKey = (source: string, key: string): string => `${source}\u0000${key}`;

/** Length of an input fingerprint (hex), and how many a source record keeps. */
const FP = 32;
const KEEP = 4;

/**
 * Whether a source record's `hash` holds this input's fingerprint. It holds the last few
 * inputs that left it as it is (a person restated in one file with other spellings of the
 * same values gives several), each applied again changing nothing.
 */
export function holdsInput(hash: string, fp: string): boolean {
  for (let i = 0; i + FP <= hash.length; i += FP) if (hash.startsWith(fp, i)) return true;
  return false;
}

/** The `hash` of a source record that an input left unchanged: that input's fingerprint first. */
export const withInput = (hash: string, fp: string): string => (fp + hash).slice(0, FP * KEEP);

/** When a source record's value of `field` last changed at its source (0: unknown, before source records). */
export const stampOf = (sr: Pick<SourceRecord, 'stamps'>, field: string): number => sr.stamps[field] ?? sr.stamps['*'] ?? 0;

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

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

/**
 * Monotonic stamps: milliseconds since 1970 times 1024, plus a counter, so that records
 * decided in the same millisecond keep their input order. A record that says when it
 * changed at its source (`changedAt`) is stamped with that time.
 */
export class Stamps {
  private last = 0;
  next(changedAt?: string): number {
    if (changedAt) {
      const t = Date.parse(changedAt);
      if (Number.isFinite(t)) return t * 1024;
    }
    this.last = Math.max(this.last + 1, Date.now() * 1024);
    return this.last;
  }
}

export interface Applied {
  values: MemberValues;
  stamps: Record<string, number>;
  /** whether any value differs from what the source record held */
  changed: boolean;
}

/**
 * What a source record holds after a record of its source arrives: its non-empty values
 * over the ones held (an empty value never erases), each changed one stamped.
 */
export function applyToSource(prev: Pick<SourceRecord, 'values' | 'stamps'> | undefined, record: NormalizedRecord, stamp: number): Applied {
  const values: Record<string, unknown> = { ...(prev?.values ?? {}) };
  // a new source record's values share one stamp
  const stamps: Record<string, number> = prev ? { ...prev.stamps } : { '*': stamp };
  let changed = prev === undefined;
  const v = record.values as Record<string, unknown>;
  for (const field of MEMBER_FIELDS) {
    const incoming = v[field];
    if (isEmpty(incoming)) continue;
    if (field === 'other') {
      const held = { ...((values.other as Record<string, string> | undefined) ?? {}) };
      for (const [k, x] of Object.entries(incoming as Record<string, string>)) {
        if (held[k] === x) continue;
        held[k] = x;
        if (prev) stamps[`other.${k}`] = stamp;
        changed = true;
      }
      values.other = held;
      continue;
    }
    if (sameValue(values[field], incoming)) continue;
    values[field] = incoming;
    if (prev) stamps[field] = stamp;
    changed = true;
  }
  return { values: values as MemberValues, stamps, changed };
}
