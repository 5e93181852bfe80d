/**
 * Pure mapping between the community `User` and canonical members. The server answers
 * .NET defaults (empty GUID, 0001-01-01) instead of nulls, and `sex` uses the Spanish
 * initials: H (hombre) is male and M (mujer) is female, so a canonical "M" for male
 * must become "H" here.
 */
import type { InputRecord, MemberValues } from '../../types.js';
import { EMPTY_DATE, EMPTY_GUID, type CommunityOptions, type GnossUser } from './types.js';

type Values = InputRecord['values'];

/** Canonical sex values this connector produces. */
export const CANONICAL_MALE = 'male';
export const CANONICAL_FEMALE = 'female';

const MALE = new Set(['h', 'm', 'male', 'man', 'hombre', 'masculino', 'varon', 'varón']);
const FEMALE = new Set(['f', 'w', 'female', 'woman', 'mujer', 'femenino']);

/** GNOSS `sex` -> canonical. Anything but H/M is unknown. */
export function sexFromRemote(sex: string | null | undefined): string | undefined {
  const s = sex?.trim().toUpperCase();
  if (s === 'H') return CANONICAL_MALE;
  if (s === 'M') return CANONICAL_FEMALE;
  return undefined;
}

/**
 * Canonical sex -> GNOSS H/M. A bare "m" is read as English "male" because canonical
 * values are never in GNOSS's Spanish initials.
 */
export function sexToRemote(sex: string | null | undefined): 'H' | 'M' | undefined {
  const s = sex?.trim().toLowerCase();
  if (!s) return undefined;
  if (MALE.has(s)) return 'H';
  if (FEMALE.has(s)) return 'M';
  return undefined;
}

/** `1985-02-01T00:00:00` -> `1985-02-01`; the .NET default date means "unknown". */
export function dateFromRemote(value: string | null | undefined): string | undefined {
  if (!value || value.startsWith(EMPTY_DATE.slice(0, 10))) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(value.trim());
  return m ? m[1] : undefined;
}

/** Canonical ISO date -> the DateTime text the server's JSON reader takes. */
export function dateToRemote(value: string | null | undefined): string | undefined {
  const m = value ? /^(\d{4}-\d{2}-\d{2})/.exec(value.trim()) : null;
  return m ? `${m[1]}T00:00:00` : undefined;
}

function text(value: string | null | undefined): string | undefined {
  const t = value?.trim();
  return t ? t : undefined;
}

function guid(value: string | null | undefined): string | undefined {
  const t = text(value);
  return t && t !== EMPTY_GUID ? t : undefined;
}

/** One pulled user -> an input record keyed by canonical names. */
export function fromCommunityUser(user: GnossUser): InputRecord {
  const v: Values = {};
  const set = (field: keyof Values, value: string | undefined): void => {
    if (value !== undefined) v[field] = value;
  };
  set('first_name', text(user.name));
  set('last_name', text(user.last_name));
  set('email', text(user.email));
  set('sex', sexFromRemote(user.sex));
  set('birth_date', dateFromRemote(user.born_date));
  set('national_id', text(user.id_card));
  set('country', text(user.country));
  set('province', text(user.provice));
  set('city', text(user.city));
  set('address', text(user.address));
  set('postal_code', text(user.postal_code));
  set('language', text(user.languaje));
  set('photo_url', text(user.photo));
  set('join_date', dateFromRemote(user.join_community_date));
  // receive_newsletter is always false in get-by-id answers, so it says nothing

  const other: Record<string, string> = {};
  for (const extra of user.extra_data ?? []) {
    const key = text(extra.short_name) ?? text(extra.name) ?? guid(extra.name_id);
    const value = text(extra.value);
    if (key && value) other[key] = value;
  }
  const id = guid(user.user_id);
  return {
    ref: id ? { externalId: id } : {},
    values: v,
    ...(Object.keys(other).length > 0 ? { other } : {}),
    raw: user as Record<string, unknown>,
  };
}

function lookupId(table: Record<string, string>, key: string | undefined): string | undefined {
  if (!key) return undefined;
  if (table[key]) return table[key];
  const lower = key.toLowerCase();
  for (const [k, id] of Object.entries(table)) if (k.toLowerCase() === lower) return id;
  return undefined;
}

/**
 * Canonical member -> the modify-user body, without user_id/community_id (push adds
 * them). Only fields modify-user applies are sent, and only non-empty ones, since
 * the server skips empty values anyway and a hash of ignored fields would make every
 * unrelated change look like a change here.
 */
export function toCommunityUser(
  member: MemberValues,
  options: Pick<CommunityOptions, 'countryIds' | 'provinceIds'>,
): Partial<GnossUser> {
  const out: Partial<GnossUser> = {};
  const put = <K extends keyof GnossUser>(key: K, value: GnossUser[K] | undefined): void => {
    if (value !== undefined && value !== null && value !== '') out[key] = value;
  };
  put('name', text(member.first_name));
  put('last_name', text(member.last_name));
  put('email', text(member.email));
  put('sex', sexToRemote(member.sex));
  put('born_date', dateToRemote(member.birth_date));
  put('country_id', lookupId(options.countryIds ?? {}, text(member.country)));
  put('province_id', lookupId(options.provinceIds ?? {}, text(member.province)));
  put('provice', text(member.province));
  put('city', text(member.city));
  put('postal_code', text(member.postal_code));
  return out;
}
