/**
 * Deterministic, realistic people for the demo, the sandbox and benchmarks: accented
 * names, mixed-case emails, phones and dates in mixed formats, and (for CSV rows) a
 * share of rows that restate an earlier person by cons_id, member_id or email with case
 * and format differences, plus a few conflicts and unreadable rows. Pure.
 */
import type { MemberValues } from '../types.js';

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ['Ana', 'José', 'María', 'Łukasz', 'Zoë', 'Chloé', 'Björn', 'Ngozi', 'Aiko', 'Mateo', 'Sofía', 'Noah', 'Amélie', 'Jürgen', 'Priya', 'Kwame', 'Inés', 'Oğuz', 'Leilani', 'Seán', 'Emma', 'Liam', 'Olivia', 'Lucas', 'Mía', 'Hugo', 'Nora', 'Iván', 'Chiara', 'Tomás'];
const LAST = ['García', 'Müller', 'Nguyen', 'O\'Brien', 'Kowalski', 'Smith', 'Fernández', 'Rossi', 'Dubois', 'Okafor', 'Tanaka', 'Silva', 'Johansson', 'Patel', 'López', 'Martínez', 'Schmidt', 'Öztürk', 'Kealoha', 'Murphy', 'Brown', 'Moreno', 'Ruiz', 'Bianchi', 'Lefèvre'];
const CITIES: [string, string, string, string][] = [
  ['Madrid', 'Madrid', '28013', 'ES'],
  ['Barcelona', 'Barcelona', '08002', 'ES'],
  ['Sevilla', 'Andalucía', '41004', 'ES'],
  ['Oakland', 'CA', '94612', 'US'],
  ['Chicago', 'IL', '60601', 'US'],
  ['Austin', 'TX', '78701', 'US'],
  ['Portland', 'OR', '97204', 'US'],
];
const DOMAINS = ['example.org', 'example.com', 'mail.example.net', 'correo.example.es'];
const GROUPS = ['volunteers', 'donors', 'board', 'newsletter', 'local-chapter', 'youth'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function ascii(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^A-Za-z]/g, '').replace('Ł', 'L').toLowerCase();
}

/** One canonical person, number i of a seeded population (ids derive from i: unique). */
type PersonKey = 'cons_id' | 'member_id' | 'email' | 'first_name' | 'last_name' | 'phone' | 'birth_date' | 'city' | 'province' | 'postal_code' | 'country' | 'sex' | 'language' | 'weight' | 'groups';
export type GeneratedPerson = { [K in PersonKey]-?: NonNullable<MemberValues[K]> };

export function person(i: number, seed = 1): GeneratedPerson {
  const r = prng(seed * 1_000_003 + i);
  const first = pick(r, FIRST);
  const last = pick(r, LAST);
  const [city, province, postal, country] = pick(r, CITIES);
  const y = 1940 + Math.floor(r() * 65);
  const m = 1 + Math.floor(r() * 12);
  const d = 1 + Math.floor(r() * 28);
  const phone = country === 'ES' ? `+346${String(10_000_000 + Math.floor(r() * 89_999_999))}` : `+1415555${String(1000 + Math.floor(r() * 8999))}`;
  return {
    cons_id: String(1_000_000 + i),
    member_id: `M-${String(i).padStart(6, '0')}`,
    email: `${ascii(first)}.${ascii(last)}.${i}@${pick(r, DOMAINS)}`,
    first_name: first,
    last_name: last,
    phone,
    birth_date: `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`,
    city,
    province,
    postal_code: postal,
    country,
    sex: r() < 0.5 ? 'female' : 'male',
    language: country === 'ES' ? 'es' : 'en',
    weight: r() < 0.9 ? 1 : 2,
    groups: [pick(r, GROUPS)],
  };
}

export const CSV_HEADER = ['cons_id', 'member_id', 'email', 'first_name', 'last_name', 'phone', 'birth_date', 'city', 'province', 'postal_code', 'country', 'sex', 'language', 'weight', 'groups', 'receive_newsletter'];

function mixCase(r: () => number, s: string): string {
  return r() < 0.5 ? s : s.replace(/^./, (c) => c.toUpperCase()).replace(/\.(.)/, (_m, c: string) => `.${c.toUpperCase()}`);
}

function dateFormat(r: () => number, iso: string): string {
  const [y, m, d] = iso.split('-');
  const k = r();
  if (k < 0.5) return iso;
  if (k < 0.8) return `${d}/${m}/${y}`;
  return `${iso}T00:00:00`;
}

function phoneFormat(r: () => number, e164: string): string {
  if (r() < 0.5 || !e164.startsWith('+1')) return e164;
  const n = e164.slice(2);
  return `(${n.slice(0, 3)}) ${n.slice(3, 6)}-${n.slice(6)}`;
}

export interface GenOptions {
  seed?: number;
  /** share of rows restating an earlier person (0..1) */
  dupRate?: number;
  /** share of rows that are conflicts or unreadable, taken out of the duplicates */
  badRate?: number;
}

/** CSV rows (without the header): new people and restatements, in a stable order. */
export function* generateRows(n: number, opts: GenOptions = {}): Generator<string[]> {
  const seed = opts.seed ?? 1;
  const r = prng(seed);
  const dupRate = opts.dupRate ?? 0.2;
  const badRate = opts.badRate ?? 0.01;
  let people = 0;
  for (let row = 0; row < n; row++) {
    const k = r();
    if (people > 0 && k < dupRate) {
      const p = person(Math.floor(r() * people), seed);
      const bad = r() < badRate / Math.max(dupRate, 1e-9);
      const by = r();
      if (bad) {
        // a conflict (another cons_id for the same member_id) or an unreadable email
        if (r() < 0.5) yield [String(9_000_000 + row), p.member_id, '', p.first_name, p.last_name, '', '', '', '', '', '', '', '', '', '', ''];
        else yield ['', '', `${p.first_name}.at.example.org`, p.first_name, p.last_name, '', '', '', '', '', '', '', '', '', '', ''];
        continue;
      }
      const email = mixCase(r, p.email).replace(/^/, r() < 0.1 ? ' ' : '');
      if (by < 0.34) yield [p.cons_id, '', '', p.first_name, p.last_name, phoneFormat(r, p.phone), '', '', '', '', '', '', '', '', '', ''];
      else if (by < 0.67) yield ['', p.member_id, email, p.first_name, p.last_name, '', dateFormat(r, p.birth_date), '', '', '', '', '', '', '', '', ''];
      else yield ['', '', email, `  ${p.first_name}  `, p.last_name, phoneFormat(r, p.phone), '', '', '', '', '', '', '', '', '', ''];
      continue;
    }
    const p = person(people++, seed);
    yield [
      p.cons_id,
      p.member_id,
      mixCase(r, p.email),
      p.first_name,
      p.last_name,
      phoneFormat(r, p.phone),
      dateFormat(r, p.birth_date),
      p.city,
      p.province,
      p.postal_code,
      p.country,
      p.sex,
      p.language,
      String(p.weight),
      p.groups.join('|'),
      r() < 0.6 ? 'true' : 'false',
    ];
  }
}
