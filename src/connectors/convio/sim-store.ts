/**
 * The Convio simulator's in-memory constituents and the rules of update, create and
 * createOrUpdate (convio-constituent-update.txt wins where the notes differ: a member_id
 * with no match falls back to primary_email, and a record found that way takes the
 * member_id when it has none). Every call validates fully before it changes anything.
 */

export class SimError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SimConstituent {
  cons_id: string;
  member_id?: string;
  /** stored lower-cased: Convio shows e-mails lower-cased after import [I] */
  email?: string;
  user_name?: string;
  first_name?: string;
  middle_name?: string;
  last_name?: string;
  phone?: string;
  street1?: string;
  street2?: string;
  city?: string;
  state?: string;
  zip?: string;
  country?: string;
  gender?: string;
  birth_date?: string;
  groups: Set<number>;
  interests: Set<number>;
  centers: Set<number>;
}

export interface ConvioSimState {
  constituents: Map<string, SimConstituent>;
  nextConsId: number;
  allowDuplicateEmails: boolean;
}

type Params = Record<string, string>;
type Scalars = Omit<SimConstituent, 'cons_id' | 'groups' | 'interests' | 'centers'>;

/** form field → stored field */
const FORM_FIELDS: Record<string, keyof Scalars> = {
  'name.first': 'first_name',
  'name.middle': 'middle_name',
  'name.last': 'last_name',
  user_name: 'user_name',
  home_phone: 'phone',
  gender: 'gender',
  birth_date: 'birth_date',
  'primary_address.street1': 'street1',
  'primary_address.street2': 'street2',
  'primary_address.city': 'city',
  'primary_address.state': 'state',
  'primary_address.zip': 'zip',
  'primary_address.country': 'country',
};

const normEmail = (e: string | undefined): string | undefined => (e && e.trim() ? e.trim().toLowerCase() : undefined);

export function createCons(state: ConvioSimState, fields: Partial<Scalars> & { cons_id?: string }): SimConstituent {
  const cons_id = fields.cons_id ?? String(state.nextConsId++);
  const c: SimConstituent = { ...fields, cons_id, email: normEmail(fields.email), groups: new Set(), interests: new Set(), centers: new Set() };
  for (const [k, v] of Object.entries(c)) if (v === undefined) delete (c as unknown as Record<string, unknown>)[k];
  state.constituents.set(cons_id, c);
  return c;
}

function byEmail(state: ConvioSimState, email: string): SimConstituent[] {
  const e = normEmail(email);
  return [...state.constituents.values()].filter((c) => c.email !== undefined && c.email === e);
}

function byMemberId(state: ConvioSimState, memberId: string): SimConstituent[] {
  return [...state.constituents.values()].filter((c) => c.member_id === memberId);
}

function ids(value: string | undefined): number[] {
  if (!value || !value.trim()) return [];
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((s) => !/^\d+$/.test(s))) throw new SimError('22', `Validation error: "${value}" is not a list of numeric ids.`);
  return parts.map(Number);
}

/** Check then apply the fields of an update/create to `c`. */
function apply(state: ConvioSimState, c: SimConstituent, p: Params, opts: { setEmail: boolean; setMemberId: 'always' | 'if-blank' | 'never' }, duplicateCode: string): void {
  const email = normEmail(p.primary_email);
  if (opts.setEmail && email && email !== c.email && !state.allowDuplicateEmails && byEmail(state, email).some((o) => o !== c)) {
    throw new SimError(duplicateCode, duplicateCode === '11' ? 'Add failed: duplicate.' : 'Update failed: duplicate e-mail address.');
  }
  const groups = { add: ids(p.add_group_ids), remove: ids(p.remove_group_ids) };
  const interests = { add: ids(p.add_interest_ids), remove: ids(p.remove_interest_ids) };
  const centers = { add: ids(p.add_center_ids), remove: ids(p.remove_center_ids) };
  // all checks passed: change the record
  if (opts.setEmail && email) c.email = email;
  const memberId = p.member_id?.trim();
  if (memberId && (opts.setMemberId === 'always' || (opts.setMemberId === 'if-blank' && !c.member_id))) c.member_id = memberId;
  for (const [form, field] of Object.entries(FORM_FIELDS)) {
    const v = p[form];
    if (v !== undefined && v.trim() !== '') c[field] = v.trim();
  }
  for (const [set, change] of [
    [c.groups, groups],
    [c.interests, interests],
    [c.centers, centers],
  ] as const) {
    for (const id of change.add) set.add(id);
    for (const id of change.remove) set.delete(id);
  }
}

/** `update` as an admin: cons_id alone, else member_id (falling back to primary_email), else primary_email. */
export function updateCons(state: ConvioSimState, p: Params): SimConstituent {
  if (p.cons_id) {
    const c = state.constituents.get(p.cons_id.trim());
    if (!c) throw new SimError('16', 'Constituent record not found.');
    apply(state, c, p, { setEmail: true, setMemberId: 'always' }, '13');
    return c;
  }
  if (p.member_id) {
    const found = byMemberId(state, p.member_id.trim());
    if (found.length > 1) throw new SimError('15', 'Update failed: matched multiple records.');
    if (found.length === 1) {
      apply(state, found[0], p, { setEmail: true, setMemberId: 'never' }, '13');
      return found[0];
    }
    if (!p.primary_email) throw new SimError('16', 'Constituent record not found.');
    const byMail = byEmail(state, p.primary_email);
    if (byMail.length > 1) throw new SimError('15', 'Update failed: matched multiple records.');
    if (byMail.length === 0) throw new SimError('16', 'Constituent record not found.');
    apply(state, byMail[0], p, { setEmail: false, setMemberId: 'if-blank' }, '13');
    return byMail[0];
  }
  if (p.primary_email) {
    const found = byEmail(state, p.primary_email);
    if (found.length > 1) throw new SimError('15', 'Update failed: matched multiple records.');
    if (found.length === 0) throw new SimError('16', 'Constituent record not found.');
    apply(state, found[0], p, { setEmail: false, setMemberId: 'always' }, '13');
    return found[0];
  }
  throw new SimError('9', 'Required parameters missing: one of cons_id, member_id, primary_email.');
}

/**
 * `createOrUpdate` (and `create` with createOnly): a cons_id updates only a match and
 * otherwise changes nothing (answered here as 16 [I]); member_id or e-mail with no match
 * creates; more than one match by member_id is an error, by e-mail an error only when
 * the site enforces unique e-mail.
 */
export function createOrUpdateCons(state: ConvioSimState, p: Params, opts: { createOnly?: boolean } = {}): { cons: SimConstituent; created: boolean } {
  const email = normEmail(p.primary_email);
  if (!opts.createOnly) {
    if (p.cons_id) {
      const c = state.constituents.get(p.cons_id.trim());
      if (!c) throw new SimError('16', 'Constituent record not found.');
      apply(state, c, p, { setEmail: true, setMemberId: 'always' }, '13');
      return { cons: c, created: false };
    }
    if (p.member_id) {
      const found = byMemberId(state, p.member_id.trim());
      if (found.length > 1) throw new SimError('8', 'Matched more than one constituent.');
      if (found.length === 1) {
        apply(state, found[0], p, { setEmail: true, setMemberId: 'never' }, '13');
        return { cons: found[0], created: false };
      }
      // the e-mail of a record with another member_id is refused below as a duplicate
      const byMail = email ? byEmail(state, email) : [];
      if (byMail.length === 1 && !byMail[0].member_id) {
        apply(state, byMail[0], p, { setEmail: false, setMemberId: 'if-blank' }, '13');
        return { cons: byMail[0], created: false };
      }
    } else if (email) {
      const found = byEmail(state, email);
      if (found.length === 1) {
        apply(state, found[0], p, { setEmail: false, setMemberId: 'always' }, '13');
        return { cons: found[0], created: false };
      }
      if (found.length > 1 && !state.allowDuplicateEmails) throw new SimError('8', 'Matched more than one constituent.');
    }
  }
  if (!email) throw new SimError('10', 'Required constituent fields missing: primary_email.');
  const probe: SimConstituent = { cons_id: '', groups: new Set(), interests: new Set(), centers: new Set() };
  apply(state, probe, p, { setEmail: true, setMemberId: 'always' }, '11');
  const { cons_id: _ignored, groups, interests, centers, ...fields } = probe;
  const c = createCons(state, fields);
  for (const [to, from] of [
    [c.groups, groups],
    [c.interests, interests],
    [c.centers, centers],
  ] as const) {
    for (const id of from) to.add(id);
  }
  return { cons: c, created: true };
}

type Json = string | null | { [k: string]: Json };
const v = (s: string | undefined): string | null => (s === undefined || s === '' ? null : s);

/** getConsResponse: nested groups; present-but-empty fields are null. */
export function consView(c: SimConstituent): { [k: string]: Json } {
  return {
    cons_id: c.cons_id,
    member_id: v(c.member_id),
    user_name: v(c.user_name),
    gender: v(c.gender),
    birth_date: v(c.birth_date),
    home_phone: v(c.phone),
    name: { title: null, first: v(c.first_name), middle: v(c.middle_name), last: v(c.last_name), suffix: null },
    email: { primary_address: v(c.email) },
    primary_address: { street1: v(c.street1), street2: v(c.street2), city: v(c.city), state: v(c.state), zip: v(c.zip), country: v(c.country) },
  };
}

const GROUP_MEMBER_VIEW: Record<string, (c: SimConstituent) => string | undefined> = {
  cons_id: (c) => c.cons_id,
  member_id: (c) => c.member_id,
  first_name: (c) => c.first_name,
  middle_name: (c) => c.middle_name,
  last_name: (c) => c.last_name,
  primary_email: (c) => c.email,
  home_street1: (c) => c.street1,
  home_street2: (c) => c.street2,
  home_street3: () => undefined,
  home_city: (c) => c.city,
  home_stateprov: (c) => c.state,
  home_county: () => undefined,
  home_zip: (c) => c.zip,
  home_country: (c) => c.country,
  home_phone: (c) => c.phone,
  gender: (c) => c.gender,
  birth_date: (c) => c.birth_date,
};

/** The documented default `fields` of getGroupMembers. */
const DEFAULT_FIELDS = ['cons_id', 'member_id', 'first_name', 'last_name', 'primary_email', 'home_street1', 'home_street2', 'home_street3', 'home_city', 'home_stateprov', 'home_county', 'home_zip'];

export function groupMemberView(c: SimConstituent, fields: string[] = DEFAULT_FIELDS): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  for (const f of fields) {
    const read = GROUP_MEMBER_VIEW[f];
    if (read) out[f] = v(read(c));
  }
  return out;
}
