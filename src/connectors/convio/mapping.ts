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

/** One getGroupMembers `member` → InputRecord; `externalId` is the cons_id. */
export function groupMemberToInput(member: ConvioGroupMember, index?: number): InputRecord {
  const values: Values = {};
  put(values, 'cons_id', member.cons_id);
  put(values, 'member_id', member.member_id);
  put(values, 'email', member.primary_email);
  put(values, 'first_name', member.first_name);
  put(values, 'middle_name', member.middle_name);
  put(values, 'last_name', member.last_name);
  put(values, 'phone', member.home_phone);
  put(values, 'address', joinStreets(member.home_street1, member.home_street2, member.home_street3));
  put(values, 'city', member.home_city);
  put(values, 'province', member.home_stateprov);
  put(values, 'postal_code', member.home_zip);
  put(values, 'country', member.home_country);
  put(values, 'sex', member.gender);
  put(values, 'birth_date', member.birth_date);
  return { ref: { externalId: values.cons_id, index }, values, raw: { ...member } };
}

/** A getUser `getConsResponse` → InputRecord. */
export function consToInput(cons: ConvioCons, index?: number): InputRecord {
  const values: Values = {};
  const name = cons.name ?? {};
  const addr = cons.primary_address ?? {};
  put(values, 'cons_id', cons.cons_id);
  put(values, 'member_id', cons.member_id);
  put(values, 'email', cons.email?.primary_address);
  put(values, 'first_name', name.first);
  put(values, 'middle_name', name.middle);
  put(values, 'last_name', name.last);
  put(values, 'phone', cons.home_phone);
  put(values, 'address', joinStreets(addr.street1, addr.street2, addr.street3));
  put(values, 'city', addr.city);
  put(values, 'province', addr.state);
  put(values, 'postal_code', addr.zip);
  put(values, 'country', addr.country);
  put(values, 'sex', cons.gender);
  put(values, 'birth_date', cons.birth_date);
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
