/**
 * A model-based test of the identity core (DESIGN.md "Identity rules", "Survivorship"):
 * a small reference implementation of rules 0-7 and of survivorship, written plainly here
 * (Maps, one record at a time, no batches, no shortcuts), against the real import into a
 * real PostgreSQL. Random sequences of imports from three sources of mixed trust — a file
 * source and two connections with their external ids — with earlier imports sent again
 * (re-pulls), at batch sizes from 1 to 2000, with the unchanged-record shortcut
 * (import.seenRows) on and off: every count, and every member field by field with its
 * source records and links, must be what the model says.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { emptyCounts, type RunCounts } from '../../src/types.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const FULL = process.env.MEMBER_SYNC_FAULTS === 'full';
const quiet = log.child({}, { level: 'fatal' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-model-'));
let fileNo = 0;

const FIELDS = ['cons_id', 'member_id', 'email', 'first_name', 'city', 'groups'] as const;
type Field = (typeof FIELDS)[number];
type Values = Partial<Record<Field, string>>;
interface Rec extends Values {
  ext?: string;
}
type Source = 'file' | 'c1' | 'c2';
interface Step {
  source: Source;
  recs: Rec[];
}

// ---------------------------------------------------------------- the reference model

interface MSource {
  source: string;
  key: string;
  member: number;
  values: Values;
  stamps: Partial<Record<Field, number>>;
}
type Counts = RunCounts;

class Model {
  members = new Map<number, Values>();
  sources = new Map<string, MSource>();
  links = new Map<string, number>();
  private nextId = 0;
  private clock = 0;
  constructor(private trust: Record<string, number>) {}

  private sourcesOf(member: number): MSource[] {
    return [...this.sources.values()].filter((s) => s.member === member);
  }

  /** survivorship: per field the non-empty value of the highest trust, then the newest change, then (source, key) */
  private compute(srs: MSource[]): Values {
    const out: Values = {};
    for (const f of FIELDS) {
      let best: MSource | undefined;
      for (const s of srs) {
        if (!s.values[f]) continue;
        if (!best) best = s;
        else {
          const [ta, tb] = [this.trust[s.source], this.trust[best.source]];
          const [sa, sb] = [s.stamps[f]!, best.stamps[f]!];
          if (ta > tb || (ta === tb && (sa > sb || (sa === sb && (s.source === best.source ? s.key < best.key : s.source < best.source))))) best = s;
        }
      }
      if (best) out[f] = best.values[f];
    }
    return out;
  }

  private holders(f: 'cons_id' | 'member_id' | 'email', v: string): number[] {
    return [...this.members].filter(([, m]) => m[f] === v).map(([id]) => id);
  }

  apply(source: string, connection: boolean, r: Rec, c: Counts): void {
    c.rows++;
    const v: Values = {};
    for (const f of FIELDS) if (r[f]) v[f] = f === 'groups' ? [...new Set(r[f]!.split('|'))].sort().join('|') : r[f];
    const ext = connection ? r.ext : undefined;
    const key = ext ? `ext:${ext}` : v.cons_id ? `cons_id:${v.cons_id}` : v.member_id ? `member_id:${v.member_id}` : v.email ? `email:${v.email}` : undefined;
    if (!key) return void c.rejected++;
    const sk = `${source}\u0000${key}`;
    const existing = this.sources.get(sk);
    // rules 0-3
    let member: number | undefined = existing?.member ?? (ext ? this.links.get(`${source}\u0000${ext}`) : undefined);
    if (member === undefined && v.cons_id) member = this.holders('cons_id', v.cons_id)[0];
    if (member === undefined && v.member_id) member = this.holders('member_id', v.member_id)[0];
    if (member === undefined && v.email) member = this.holders('email', v.email)[0];
    const stamp = ++this.clock;
    if (member === undefined) {
      const id = ++this.nextId;
      const sr: MSource = { source, key, member: id, values: v, stamps: Object.fromEntries(Object.keys(v).map((f) => [f, stamp])) };
      this.sources.set(sk, sr);
      this.members.set(id, this.compute([sr]));
      if (ext) this.links.set(`${source}\u0000${ext}`, id);
      return void c.created++;
    }
    const m = this.members.get(member)!;
    // rule 4: the guard, whichever rule found the member
    if ((v.cons_id && m.cons_id && v.cons_id !== m.cons_id) || (v.member_id && m.member_id && v.member_id !== m.member_id)) return void c.conflicts++;
    // rule 6: the record over its source record; the member computed again
    const values = { ...(existing?.values ?? {}) };
    const stamps = { ...(existing?.stamps ?? {}) };
    let changed = !existing;
    for (const f of FIELDS) {
      if (v[f] && values[f] !== v[f]) {
        values[f] = v[f];
        stamps[f] = stamp;
        changed = true;
      }
    }
    const gainsLink = ext !== undefined && !this.links.has(`${source}\u0000${ext}`);
    if (!changed) {
      if (gainsLink) this.links.set(`${source}\u0000${ext}`, member);
      return void c[gainsLink ? 'updated' : 'unchanged']++;
    }
    const sr: MSource = { source, key, member, values, stamps };
    const next = this.compute([...this.sourcesOf(member).filter((s) => `${s.source}\u0000${s.key}` !== sk), sr]);
    for (const f of ['cons_id', 'member_id', 'email'] as const) {
      if (next[f] && next[f] !== m[f] && this.holders(f, next[f]!).some((h) => h !== member)) return void c.conflicts++;
    }
    this.sources.set(sk, sr);
    if (gainsLink) this.links.set(`${source}\u0000${ext}`, member);
    const diff = FIELDS.some((f) => (m[f] ?? '') !== (next[f] ?? ''));
    this.members.set(member, next);
    c[diff || gainsLink ? 'updated' : 'unchanged']++;
  }

  /** members as comparable strings: fields, source record keys, links */
  snapshot(): string[] {
    return [...this.members].map(([id, m]) =>
      JSON.stringify([
        ...FIELDS.map((f) => m[f] ?? null),
        this.sourcesOf(id).map((s) => `${s.source}|${s.key}`).sort(),
        [...this.links].filter(([, x]) => x === id).map(([k]) => k.replace('\u0000', '|')).sort(),
      ]),
    ).sort();
  }
}

// ---------------------------------------------------------------- the real thing

const SOURCE_NAME: Record<Source, string> = { file: 'file:canonical', c1: 'c1', c2: 'c2' };
const HEADER = ['external_id', ...FIELDS];

function write(step: Step): string {
  const f = path.join(dir, `m${++fileNo}.csv`);
  const rows = step.recs.map((r) => [step.source === 'file' ? '' : (r.ext ?? ''), ...FIELDS.map((k) => r[k] ?? '')].join(','));
  writeFileSync(f, [HEADER.join(','), ...rows].join('\n') + '\n');
  return f;
}

async function snapshotOf(db: TestDb): Promise<string[]> {
  const members = await db.knex('members').select('id', ...FIELDS);
  const srs = await db.knex('source_records').select('member_id', 'source', 'source_key');
  const links = await db.knex('member_links').select('member_id', 'connection', 'external_id');
  return members
    .map((m) =>
      JSON.stringify([
        ...FIELDS.map((f) => (f === 'groups' ? (m.groups ? (m.groups as string[]).join('|') : null) : (m[f] ?? null))),
        srs.filter((s) => s.member_id === m.id).map((s) => `${s.source}|${s.source_key}`).sort(),
        links.filter((l) => l.member_id === m.id).map((l) => `${l.connection}|${l.external_id}`).sort(),
      ]),
    )
    .sort();
}

const maybe = (...values: string[]) => fc.option(fc.constantFrom(...values), { nil: undefined });
const recArb: fc.Arbitrary<Rec> = fc.record({
  ext: maybe('X1', 'X2', 'X3'),
  cons_id: maybe('C1', 'C2'),
  member_id: maybe('M1', 'M2', 'M3'),
  email: maybe('a@x.org', 'b@x.org', 'c@x.org'),
  first_name: maybe('Ann', 'Bob'),
  city: maybe('Oslo', 'Rome'),
  groups: maybe('x', 'y', 'x|y'),
});
const stepArb: fc.Arbitrary<Step> = fc.record({ source: fc.constantFrom<Source>('file', 'c1', 'c2'), recs: fc.array(recArb, { minLength: 1, maxLength: 6 }) });
// a step, or an earlier step sent again as it was (a re-pull)
const planArb = fc.array(fc.oneof({ weight: 3, arbitrary: stepArb }, { weight: 1, arbitrary: fc.nat() }), { minLength: 1, maxLength: 8 });

async function empty(db: TestDb): Promise<void> {
  await db.knex.raw('truncate members, source_records, source_record_history, ingest_batches, member_links, member_changes, conflicts, rejects, imported_files, checkpoints, push_state, runs restart identity cascade');
}

let on: TestDb;
let off: TestDb;
beforeAll(async () => {
  [on, off] = await Promise.all([createTestDb(), createTestDb()]);
});
afterAll(async () => {
  await on?.drop();
  await off?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the identity core against a reference model', () => {
  it('gives every count and every member, field by field, that the model gives', { timeout: FULL ? 1_800_000 : 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        planArb,
        fc.record({ file: fc.integer({ min: 0, max: 2 }), c1: fc.integer({ min: 0, max: 2 }), c2: fc.integer({ min: 0, max: 2 }) }),
        fc.constantFrom(1, 2, 3, 5, 2000),
        async (plan, trust, batchSize) => {
          const steps: Step[] = [];
          for (const p of plan) steps.push(typeof p === 'number' ? (steps.length > 0 ? steps[p % steps.length] : { source: 'file', recs: [{ email: 'a@x.org' }] }) : p);
          const model = new Model({ 'file:canonical': trust.file, c1: trust.c1, c2: trust.c2 });
          const expected: Counts[] = steps.map((s) => {
            const c: Counts = emptyCounts();
            for (const r of s.recs) model.apply(SOURCE_NAME[s.source], s.source !== 'file', r, c);
            return c;
          });
          const files = steps.map(write);
          for (const [db, seenRows] of [[on, true], [off, false]] as const) {
            await empty(db);
            const config = loadConfig({
              env: {},
              overrides: {
                import: { batchSize, fileTrust: trust.file, seenRows },
                connections: {
                  c1: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1/', trust: trust.c1, options: { organizationAddress: '0x1' } },
                  c2: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1/', trust: trust.c2, options: { organizationAddress: '0x1' } },
                },
              },
            });
            const got: Counts[] = [];
            for (const [i, f] of files.entries()) {
              const s = await importFile(f, { db: db.knex, config, log: quiet, force: true, connection: steps[i].source === 'file' ? undefined : steps[i].source });
              got.push({ rows: s.rows, created: s.created, updated: s.updated, unchanged: s.unchanged, conflicts: s.conflicts, rejected: s.rejected });
            }
            expect(got).toEqual(expected);
            expect(await snapshotOf(db)).toEqual(model.snapshot());
          }
        },
      ),
      { numRuns: FULL ? 300 : 30 },
    );
  });
});
