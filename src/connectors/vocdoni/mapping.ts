/**
 * Pure mapping between Vocdoni org members and canonical members. memberNumber is the
 * organization's own key and becomes the voting credential, so a member without a
 * member_id is never pushed. Phones come back masked (hash prefix + "***"): a masked
 * phone is not a phone and is never read back.
 */
import type { InputRecord, MemberValues } from '../../types.js';
import type { OrgMember } from './types.js';

/** A phone as the server answers it: 6 hex characters of a salted hash and "***". */
export function isMaskedPhone(phone: string | undefined | null): boolean {
  return !!phone && /\*{3}$/.test(phone.trim());
}

function text(value: string | null | undefined): string | undefined {
  const t = value?.trim();
  return t ? t : undefined;
}

/** `YYYY-MM-DD` stays, `DD/MM/YYYY` (which the server accepts too) is turned around. */
export function birthDateFromRemote(value: string | undefined): string | undefined {
  const t = text(value);
  if (!t) return undefined;
  const dmy = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(t);
  return dmy ? `${dmy[3]}-${dmy[2]}-${dmy[1]}` : t;
}

/** One org member -> an input record keyed by canonical names. */
export function fromOrgMember(m: OrgMember): InputRecord {
  const values: InputRecord['values'] = {};
  const set = (field: keyof InputRecord['values'], v: string | undefined): void => {
    if (v !== undefined) values[field] = v;
  };
  set('member_id', text(m.memberNumber));
  set('first_name', text(m.name));
  set('last_name', text(m.surname));
  set('email', text(m.email));
  if (!isMaskedPhone(m.phone)) set('phone', text(m.phone));
  set('national_id', text(m.nationalId));
  set('birth_date', birthDateFromRemote(m.birthDate));
  set('weight', text(m.weight));

  const other: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.other ?? {})) {
    if (v === null || v === undefined || v === '') continue;
    other[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return {
    ref: m.id ? { externalId: m.id } : {},
    values,
    ...(Object.keys(other).length > 0 ? { other } : {}),
    raw: { ...m },
  };
}

/**
 * Canonical member -> OrgMember without `id` (push adds it for updates). Weight is
 * always sent because PUT always overwrites it; leaving it out would reset it to 1.
 */
export function toOrgMember(member: MemberValues): OrgMember | { skip: string } {
  const memberNumber = text(member.member_id);
  if (!memberNumber) return { skip: 'no member_id' };
  const out: OrgMember = { memberNumber };
  const put = (key: keyof OrgMember, v: string | undefined): void => {
    if (v !== undefined) (out as Record<string, unknown>)[key] = v;
  };
  put('name', text(member.first_name));
  put('surname', text(member.last_name));
  put('email', text(member.email)?.toLowerCase());
  put('phone', text(member.phone));
  put('nationalId', text(member.national_id));
  put('birthDate', text(member.birth_date)?.slice(0, 10));
  const weight = typeof member.weight === 'number' && member.weight > 0 ? Math.floor(member.weight) : 1;
  out.weight = String(weight);
  return out;
}
