/**
 * Normalization: raw strings in canonical names -> typed canonical values. Pure.
 * A record whose email, dates, numbers or booleans cannot be read, or that carries no
 * identity key at all, is rejected with the reason; nothing is silently dropped.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import {
  BOOL_FIELDS,
  DATE_FIELDS,
  INT_FIELDS,
  LIST_FIELDS,
  TEXT_FIELDS,
  type InputRecord,
  type MemberValues,
  type NormalizedRecord,
} from '../types.js';

export interface NormalizeOptions {
  defaultCountry: string;
  /** the record comes from a connection, whose external id is a key (rule 0); a file's is not */
  connection?: boolean;
}

export type NormalizeResult = { ok: true; record: NormalizedRecord } | { ok: false; reason: string };

const EMAIL_RE = /^[^\s@"(),:;<>[\\\]]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$/;

export function normalizeEmail(value: string): string | undefined {
  const email = value.trim().toLowerCase();
  if (email.length > 254 || !EMAIL_RE.test(email) || email.split('@')[0].length > 64) return undefined;
  return email;
}

export function foldSpaces(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
};

function isoDate(y: number, m: number, d: number): string | undefined {
  if (y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1) return undefined;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (d > days) return undefined;
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/**
 * Accepts YYYY-MM-DD, DD/MM/YYYY, an ISO date-time (the date part is kept) and IKANOW's
 * `MMM d, yyyy hh:mm:ss a`. Returns an ISO date or undefined.
 */
export function normalizeDate(value: string): string | undefined {
  const s = value.trim();
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(s);
  if (m) return isoDate(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
  if (m) return isoDate(Number(m[3]), Number(m[2]), Number(m[1]));
  m = /^([A-Za-z]{3})[a-z]*\.? (\d{1,2}), (\d{4})(?: (\d{1,2}):(\d{2}):(\d{2}) ?([AaPp][Mm]))?$/.exec(s);
  if (m) {
    const month = MONTHS[m[1].toLowerCase()];
    return month ? isoDate(Number(m[3]), month, Number(m[2])) : undefined;
  }
  return undefined;
}

export function normalizeBoolean(value: string): boolean | undefined {
  const s = value.trim().toLowerCase();
  if (s === '1' || s === 'true' || s === 'yes' || s === 'y') return true;
  if (s === '0' || s === 'false' || s === 'no' || s === 'n') return false;
  return undefined;
}

/**
 * E.164 when the number parses for the default country (a possible number: the right
 * length for its country; checking it against every numbering plan costs several times
 * more per row and would keep fewer numbers); else as given.
 */
export function normalizePhone(value: string, defaultCountry: string): string {
  const s = foldSpaces(value);
  if (/^\+[1-9]\d{7,14}$/.test(s) && PLAIN_E164.has(s.slice(0, 2))) return s;
  const parsed = parsePhoneNumberFromString(s, defaultCountry as CountryCode);
  if (parsed && parsed.isPossible()) return parsed.number;
  return s;
}

// +1 (NANP) and +7 numbers already in E.164 have nothing to normalize; other prefixes
// still go through the parser, which knows their country code lengths.
const PLAIN_E164 = new Set(['+1', '+7']);

const SEX: Record<string, string> = {
  m: 'male', male: 'male', man: 'male', h: 'male', hombre: 'male',
  f: 'female', female: 'female', woman: 'female', w: 'female', mujer: 'female',
  x: 'other', o: 'other', other: 'other', nonbinary: 'other', 'non-binary': 'other',
};

export function normalizeSex(value: string): string {
  const s = value.trim().toLowerCase();
  return SEX[s] ?? s;
}

export function normalizeList(value: string): string[] {
  const items = value
    .split(/[|;,]/)
    .map((v) => foldSpaces(v))
    .filter((v) => v !== '');
  return [...new Set(items)].sort();
}

const NAME_FIELDS = new Set(['first_name', 'middle_name', 'last_name', 'address', 'city', 'province']);

/** Normalize one mapped record. */
export function normalizeRecord(input: InputRecord, opts: NormalizeOptions): NormalizeResult {
  const values: MemberValues = {};
  const v = input.values;
  for (const f of TEXT_FIELDS) {
    const raw = v[f];
    if (raw === undefined || raw.trim() === '') continue;
    if (f === 'email') {
      const email = normalizeEmail(raw);
      if (!email) return { ok: false, reason: `email: not a valid address: ${JSON.stringify(raw.slice(0, 100))}` };
      values.email = email;
    } else if (f === 'phone') values.phone = normalizePhone(raw, opts.defaultCountry);
    else if (f === 'sex') values.sex = normalizeSex(raw);
    else if (f === 'language') values.language = raw.trim().toLowerCase();
    else if (f === 'country') {
      const c = foldSpaces(raw);
      values.country = c.length === 2 ? c.toUpperCase() : c;
    } else if (f === 'national_id') values.national_id = raw.replace(/\s+/g, '').toUpperCase();
    else if (NAME_FIELDS.has(f)) values[f] = foldSpaces(raw);
    else values[f] = raw.trim();
  }
  for (const f of DATE_FIELDS) {
    const raw = v[f];
    if (raw === undefined || raw.trim() === '') continue;
    const d = normalizeDate(raw);
    if (!d) return { ok: false, reason: `${f}: not a date: ${JSON.stringify(raw.slice(0, 100))}` };
    values[f] = d;
  }
  for (const f of INT_FIELDS) {
    const raw = v[f];
    if (raw === undefined || raw.trim() === '') continue;
    const s = raw.trim();
    const n = Number(s);
    const ok = /^\d+$/.test(s) && Number.isSafeInteger(n) && (f !== 'weight' || n >= 1);
    if (!ok) {
      const want = f === 'weight' ? 'a positive integer' : 'a non-negative integer';
      return { ok: false, reason: `${f}: expected ${want}, got ${JSON.stringify(s.slice(0, 100))}` };
    }
    values[f] = n;
  }
  for (const f of LIST_FIELDS) {
    const raw = v[f];
    if (raw === undefined || raw.trim() === '') continue;
    values[f] = normalizeList(raw);
  }
  for (const f of BOOL_FIELDS) {
    const raw = v[f];
    if (raw === undefined || raw.trim() === '') continue;
    const b = normalizeBoolean(raw);
    if (b === undefined) return { ok: false, reason: `${f}: expected 1/0, true/false or yes/no, got ${JSON.stringify(raw.slice(0, 100))}` };
    values[f] = b;
  }
  if (input.other) {
    const other: Record<string, string> = {};
    for (const [k, val] of Object.entries(input.other)) {
      if (val !== undefined && val.trim() !== '') other[k] = val.trim();
    }
    if (Object.keys(other).length > 0) values.other = other;
  }
  if (!values.cons_id && !values.member_id && !values.email && !(opts.connection && input.ref.externalId)) {
    return {
      ok: false,
      reason: opts.connection
        ? 'no_identity_key: the record has no cons_id, member_id, email nor external id'
        : 'no_identity_key: the record has no cons_id, member_id nor email (an external id counts only when imported for a connection, with --connection)',
    };
  }
  return { ok: true, record: { ref: input.ref, values, raw: input.raw } };
}
