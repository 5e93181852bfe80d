/**
 * Column mappings: which CSV header is which canonical field. Headers compare
 * case-insensitively. Built in: `canonical` (the default), `convio`, `vocdoni`,
 * `community`; anything else is a YAML file:
 *
 *   name: my-export
 *   columns: { "E-mail": email, "Member No": member_id, "Ref": external_id }
 *   values: { sex: { H: male, M: female } }
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { MEMBER_FIELDS } from '../types.js';

/** A canonical field, `external_id` (the connection's id for the row), `status` (active or removed), or `ignore`. */
export type MappedField = Exclude<(typeof MEMBER_FIELDS)[number], 'other'> | 'external_id' | 'status' | 'ignore';

export interface Mapping {
  name: string;
  /** lower-cased header -> field */
  columns: Map<string, MappedField>;
  /** per field, raw value (lower-cased) -> replacement */
  values: Record<string, Record<string, string>>;
}

const CANONICAL_COLUMNS = MEMBER_FIELDS.filter((f) => f !== 'other');

function build(name: string, columns: Record<string, MappedField>, values: Record<string, Record<string, string>> = {}): Mapping {
  const lowered: Record<string, Record<string, string>> = {};
  for (const [f, map] of Object.entries(values)) {
    lowered[f] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k.toLowerCase(), v]));
  }
  return { name, columns: new Map(Object.entries(columns).map(([k, v]) => [k.toLowerCase(), v])), values: lowered };
}

const BUILTIN: Record<string, () => Mapping> = {
  canonical: () => build('canonical', { ...Object.fromEntries(CANONICAL_COLUMNS.map((f) => [f, f])), external_id: 'external_id', status: 'status' }),
  // Luminate Online constituent export headers.
  convio: () =>
    build('convio', {
      CONS_ID: 'cons_id',
      MEMBER_ID: 'member_id',
      PRIMARY_EMAIL: 'email',
      EMAIL: 'email',
      FIRST_NAME: 'first_name',
      MIDDLE_NAME: 'middle_name',
      LAST_NAME: 'last_name',
      HOME_PHONE: 'phone',
      MOBILE_PHONE: 'phone',
      HOME_STREET1: 'address',
      HOME_CITY: 'city',
      HOME_STATEPROV: 'province',
      HOME_ZIP: 'postal_code',
      HOME_COUNTRY: 'country',
      GENDER: 'sex',
      BIRTH_DATE: 'birth_date',
      ACCEPT_EMAIL: 'receive_newsletter',
      GROUP_IDS: 'groups',
      INTEREST_IDS: 'interests',
    }),
  // Vocdoni's member fields.
  vocdoni: () =>
    build('vocdoni', {
      memberNumber: 'member_id',
      name: 'first_name',
      surname: 'last_name',
      email: 'email',
      phone: 'phone',
      nationalId: 'national_id',
      birthDate: 'birth_date',
      weight: 'weight',
      id: 'external_id',
    }),
  // The community platform's user fields, spelled as it spells them.
  community: () =>
    build(
      'community',
      {
        name: 'first_name',
        last_name: 'last_name',
        email: 'email',
        id_card: 'national_id',
        born_date: 'birth_date',
        city: 'city',
        provice: 'province',
        postal_code: 'postal_code',
        country: 'country',
        sex: 'sex',
        languaje: 'language',
        user_id: 'external_id',
      },
      { sex: { H: 'male', M: 'female' } },
    ),
};

export const BUILTIN_MAPPINGS = Object.keys(BUILTIN);

/**
 * With no mapping asked for: the built-in mapping that recognizes the most of the file's
 * headers, among those that find an identity column in them; `canonical` on a tie or
 * when none does (its error then names the headers it wants).
 */
export function detectMapping(headers: string[], hasConnection: boolean): Mapping {
  const keys = headers.map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
  let best = BUILTIN.canonical();
  let bestScore = -1;
  for (const name of BUILTIN_MAPPINGS) {
    const m = BUILTIN[name]();
    const fields = keys.map((k) => m.columns.get(k));
    if (!fields.some((f) => f !== undefined && IDENTITY.has(f) && (f !== 'external_id' || hasConnection))) continue;
    const score = fields.filter((f) => f !== undefined).length;
    // canonical comes first: another mapping must recognize strictly more
    if (score > bestScore) [best, bestScore] = [m, score];
  }
  return best;
}

/** What a mapping does, as a short stable string: part of the key an imported file is remembered by. */
export function mappingDigest(m: Mapping): string {
  const text = JSON.stringify([[...m.columns.entries()].sort(), Object.entries(m.values).sort()]);
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** The headers of a plan whose values go to `other` (no field in the mapping). */
export function otherColumns(plan: HeaderPlan): string[] {
  return plan.headers.filter((h, i) => plan.fields[i] === undefined && h !== '');
}

const fieldNames = [...CANONICAL_COLUMNS, 'external_id', 'status', 'ignore'] as unknown as [string, ...string[]];
const fileSchema = z
  .object({
    name: z.string().optional(),
    columns: z.record(z.string(), z.enum(fieldNames)),
    values: z.partialRecord(z.enum(fieldNames), z.record(z.string(), z.string())).optional(),
  })
  .strict();

export function loadMapping(nameOrFile: string | undefined): Mapping {
  const key = nameOrFile ?? 'canonical';
  const builtin = BUILTIN[key];
  if (builtin) return builtin();
  if (!/[./\\]/.test(key)) {
    throw new InputError(`unknown mapping '${key}': use one of ${BUILTIN_MAPPINGS.join(', ')} or a path to a YAML mapping file`);
  }
  let text: string;
  try {
    text = readFileSync(key, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read mapping file ${key}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new InputError(`${key}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = fileSchema.safeParse(parsed);
  if (!r.success) {
    const i = r.error.issues[0];
    const allowed = i.code === 'invalid_value' ? `; allowed: ${fieldNames.join(', ')}` : '';
    throw new InputError(`${key}: ${i.path.join('.') || '(top level)'}: ${i.message}${allowed}`);
  }
  return build(r.data.name ?? key, r.data.columns as Record<string, MappedField>, (r.data.values ?? {}) as Record<string, Record<string, string>>);
}

export interface HeaderPlan {
  /** per column: the field it maps to, or undefined for `other` */
  fields: (MappedField | undefined)[];
  headers: string[];
}

const IDENTITY = new Set<MappedField>(['cons_id', 'member_id', 'email', 'external_id']);

/** Match a file's header line to a mapping; fails on duplicate headers or no identity column. */
/** A header as an error message shows it: hostile files have megabyte-long ones. */
const shown = (h: string) => (h.length > 60 ? `${h.slice(0, 60)}…` : h);

export function planHeaders(headers: string[], mapping: Mapping, hasConnection: boolean): HeaderPlan {
  const seen = new Map<string, number>();
  headers.forEach((h, i) => {
    const k = h.trim().toLowerCase();
    if (k === '') return;
    const prev = seen.get(k);
    if (prev !== undefined) throw new InputError(`duplicate header '${shown(h.trim())}' (columns ${prev + 1} and ${i + 1}): rename one of them`);
    seen.set(k, i);
  });
  const fields = headers.map((h) => mapping.columns.get(h.trim().toLowerCase()));
  const identity = fields.some((f) => f !== undefined && IDENTITY.has(f) && (f !== 'external_id' || hasConnection));
  if (!identity) {
    const wanted = [...mapping.columns.entries()].filter(([, f]) => IDENTITY.has(f)).map(([h]) => h);
    throw new InputError(
      `missing required headers: the file needs at least one identity column (${wanted.join(', ')}) for mapping '${mapping.name}'; found: ${headers.slice(0, 20).map(shown).join(', ')}${headers.length > 20 ? `, … (${headers.length} columns)` : ''}`,
    );
  }
  return { fields, headers: headers.map((h) => h.trim()) };
}
