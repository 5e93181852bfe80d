/**
 * Convio ↔ canonical mapping. Pure: no I/O, no clock. Pull side turns Convio's
 * string-typed, sometimes-collapsed records into InputRecords (raw strings keyed by
 * canonical names); push side turns a member into the form fields of `update` /
 * `createOrUpdate`.
 */
import type { InputRecord, MemberValues } from '../../types.js';
import type { ConvioCons, ConvioForm, ConvioGroupMember, OneOrMany } from './types.js';

/**
 * Convio scalars: strings, null for "visible but empty", and now and then a one-element
 * array or an empty object where a value would be. Returns a trimmed non-empty string.
 */
export function scalar(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? scalar(value[0]) : undefined;
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Undo the one-element collapse: `undefined`, `{}`, an object or an array → array. */
export function asList<T>(value: OneOrMany<T> | unknown): T[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value as T[];
  if (typeof value === 'object' && Object.keys(value as object).length === 0) return [];
  return [value as T];
}

type Values = InputRecord['values'];

function put(values: Values, key: keyof Values, value: unknown): void {
  const v = scalar(value);
  if (v !== undefined) values[key] = v;
}

function joinStreets(...parts: unknown[]): string | undefined {
  const lines = parts.map(scalar).filter((p): p is string => p !== undefined);
  return lines.length ? lines.join(', ') : undefined;
}

/**
 * Where each canonical field is in Convio's two shapes of a person: a getGroupMembers
 * `member` (flat) and a getUser `getConsResponse` (nested).
 */
const FROM_CONVIO: [keyof Values, (m: ConvioGroupMember) => unknown, (c: ConvioCons) => unknown][] = [
  ['cons_id', (m) => m.cons_id, (c) => c.cons_id],
  ['member_id', (m) => m.member_id, (c) => c.member_id],
  ['email', (m) => m.primary_email, (c) => c.email?.primary_address],
  ['first_name', (m) => m.first_name, (c) => c.name?.first],
  ['middle_name', (m) => m.middle_name, (c) => c.name?.middle],
  ['last_name', (m) => m.last_name, (c) => c.name?.last],
  ['phone', (m) => m.home_phone, (c) => c.home_phone],
  ['address', (m) => joinStreets(m.home_street1, m.home_street2, m.home_street3), (c) => joinStreets(c.primary_address?.street1, c.primary_address?.street2, c.primary_address?.street3)],
  ['city', (m) => m.home_city, (c) => c.primary_address?.city],
  ['province', (m) => m.home_stateprov, (c) => c.primary_address?.state],
  ['postal_code', (m) => m.home_zip, (c) => c.primary_address?.zip],
  ['country', (m) => m.home_country, (c) => c.primary_address?.country],
  ['sex', (m) => m.gender, (c) => c.gender],
  ['birth_date', (m) => m.birth_date, (c) => c.birth_date],
];

/** One getGroupMembers `member` → InputRecord; `externalId` is the cons_id. */
export function groupMemberToInput(member: ConvioGroupMember, index?: number): InputRecord {
  const values: Values = {};
  for (const [key, fromMember] of FROM_CONVIO) put(values, key, fromMember(member));
  return { ref: { externalId: values.cons_id, index }, values, raw: { ...member } };
}

/** A getUser `getConsResponse` → InputRecord. */
export function consToInput(cons: ConvioCons, index?: number): InputRecord {
  const values: Values = {};
  for (const [key, , fromCons] of FROM_CONVIO) put(values, key, fromCons(cons));
  return { ref: { externalId: values.cons_id, index }, values, raw: { ...cons } };
}

/** Canonical field → Convio update/create field name (listUserFields dot notation). */
export const FIELD_TO_CONVIO = {
  member_id: 'member_id',
  email: 'primary_email',
  first_name: 'name.first',
  middle_name: 'name.middle',
  last_name: 'name.last',
  phone: 'home_phone',
  sex: 'gender',
  birth_date: 'birth_date',
  address: 'primary_address.street1',
  city: 'primary_address.city',
  province: 'primary_address.state',
  postal_code: 'primary_address.zip',
  country: 'primary_address.country',
} as const satisfies Partial<Record<keyof MemberValues, string>>;

/** Numeric ids among canonical list values ("1010" yes, "volunteers" no), sorted, unique. */
export function numericIds(list: readonly string[] | null | undefined): number[] {
  const ids = new Set<number>();
  for (const v of list ?? []) if (/^\d+$/.test(v.trim())) ids.add(Number(v.trim()));
  return [...ids].sort((a, b) => a - b);
}

/**
 * The form fields for a member (no cons_id, no credentials): the payload that is hashed
 * to detect change and then sent. Only non-empty values go out, because an empty value
 * must never erase what Convio holds. Groups: the connection owns its configured
 * `groupIds`, so a member whose `groups` list is known gets added to the numeric ones it
 * lists and removed from configured groups it does not list; an unknown (null) list
 * changes no membership. Interests and centers are only ever added.
 */
const CONVIO_FIELDS = Object.entries(FIELD_TO_CONVIO) as Array<[keyof typeof FIELD_TO_CONVIO, string]>;

export function memberToConvio(member: MemberValues, opts: { groupIds: readonly number[] }): ConvioForm {
  const form: ConvioForm = {};
  for (const [field, convio] of CONVIO_FIELDS) {
    const v = member[field];
    if (typeof v === 'string') {
      const t = v.trim();
      if (t !== '') form[convio] = t;
    }
  }
  if (Array.isArray(member.groups)) {
    const wanted = numericIds(member.groups);
    const remove = opts.groupIds.filter((g) => !wanted.includes(g));
    if (wanted.length) form.add_group_ids = wanted.join(',');
    if (remove.length) form.remove_group_ids = [...remove].sort((a, b) => a - b).join(',');
  }
  const interests = numericIds(member.interests);
  if (interests.length) form.add_interest_ids = interests.join(',');
  const centers = numericIds(member.centers);
  if (centers.length) form.add_center_ids = centers.join(',');
  // keys in code-unit order (the order the payload is hashed in), not the locale's: cheaper, and the same everywhere
  const sorted: ConvioForm = {};
  for (const k of Object.keys(form).sort()) sorted[k] = form[k];
  return sorted;
}
