/**
 * `member-sync rules preview`: the identity rules run again over the stored source records
 * (their latest values, in the order they were first seen) under today's config and under
 * another one (trust ranks, matching.allowDuplicateEmails), in memory; nothing is written.
 * Reports which members the other config would merge, split or change, with examples.
 *
 * Every source record is held in memory while it runs (about a kilobyte each): a preview of
 * a million-member store wants a gigabyte or so.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { decideMatch } from '../members/match.js';
import { keyClash, sameValue } from '../members/merge.js';
import type { SourceRecord } from '../members/source-record.js';
import { computeMember } from '../members/survivorship.js';
import { WorkingSet } from '../members/working-set.js';
import { rowToSource } from '../store/source-repo.js';
import { MEMBER_FIELDS, type Member } from '../types.js';
import { trustResolver } from './ingest.js';

const EXAMPLES = 20;

export interface PreviewExample {
  members: string[];
  detail: string;
}

export interface RulesPreview {
  source_records: number;
  members_now: number;
  members_then: number;
  /** members the rules under today's config do not give from today's source records (history, a steward) */
  not_reproducible: number;
  /** groups of today's members that would become one */
  merge: { count: number; examples: PreviewExample[] };
  /** today's members whose source records would go to several members (or be refused) */
  split: { count: number; examples: PreviewExample[] };
  /** members that stay whole but whose fields would change */
  change: { count: number; examples: PreviewExample[] };
  /** source records the rules would refuse (a conflict): they would reach no member */
  conflicts: { count: number; examples: PreviewExample[] };
}

async function* pages(db: Knex, table: string, order: string, size = 5000): AsyncGenerator<Record<string, unknown>[]> {
  for (let offset = 0; ; offset += size) {
    const rows: Record<string, unknown>[] = await db(table).orderByRaw(order).limit(size).offset(offset);
    if (rows.length === 0) return;
    yield rows;
  }
}

interface Replay {
  /** source record -> the member it would be in */
  group: Map<string, string>;
  members: Map<string, Member>;
  refused: { sr: SourceRecord; reason: string }[];
}

const refOf = (sr: SourceRecord) => `${sr.source}:${sr.key}`;

/** The rules over the source records, in the order they were first seen. */
function replay(records: SourceRecord[], config: Readonly<Config>): Replay {
  const trustOf = trustResolver(config);
  const set = new WorkingSet();
  const out: Replay = { group: new Map(), members: set.members, refused: [] };
  let seq = 0;
  for (const sr of records) {
    const externalId = sr.key.startsWith('ext:') ? sr.key.slice(4) : undefined;
    const connection = externalId ? sr.source : undefined;
    const record = { ref: { externalId }, values: sr.values, raw: {} };
    const d = decideMatch(record, set, { connection, source: sr.source, sourceKey: sr.key, allowDuplicateEmails: config.matching.allowDuplicateEmails });
    if (d.type === 'conflict') {
      out.refused.push({ sr, reason: d.reason });
      continue;
    }
    const id = d.type === 'new' ? `p${++seq}` : d.member.id;
    const placed = { ...sr, memberId: id };
    const others = d.type === 'new' ? [] : set.sourceRecordsOf(id);
    const next = computeMember({ id, created_run_id: null }, [...others, placed], trustOf);
    if (d.type === 'match') {
      const clash = keyClash(d.member, next, set, config.matching.allowDuplicateEmails);
      if (clash) {
        out.refused.push({ sr, reason: clash.reason });
        continue;
      }
      set.replace(next);
    } else set.add(next);
    set.putSource(placed);
    if (externalId && connection) set.addLink(connection, externalId, id);
    out.group.set(refOf(sr), id);
  }
  return out;
}

/**
 * Both configs replayed over the same source records, and the replays compared: what the
 * other config would do differently. (Compared with each other rather than with the store,
 * because the store also holds what no replay of today's values can give: members joined
 * through a key a source has changed since, and a steward's splits; those are counted
 * apart, as `not_reproducible`.)
 */
export async function previewRules(db: Knex, current: Readonly<Config>, other: Readonly<Config>): Promise<RulesPreview> {
  const records: SourceRecord[] = [];
  for await (const rows of pages(db, 'source_records', 'first_run_id, id')) for (const r of rows) records.push(rowToSource(r));
  let membersNow = 0;
  for await (const rows of pages(db, 'members', 'id')) membersNow += rows.length;
  const storeOf = new Map(records.map((sr) => [refOf(sr), sr.memberId]));
  const a = replay(records, current);
  const b = replay(records, other);
  const out: RulesPreview = {
    source_records: records.length,
    members_now: membersNow,
    members_then: b.members.size,
    not_reproducible: 0,
    merge: { count: 0, examples: [] },
    split: { count: 0, examples: [] },
    change: { count: 0, examples: [] },
    conflicts: { count: b.refused.length, examples: b.refused.slice(0, EXAMPLES).map((r) => ({ members: [r.sr.memberId], detail: `${refOf(r.sr)}: ${r.reason}` })) },
  };
  const note = (bucket: { count: number; examples: PreviewExample[] }, ex: PreviewExample) => {
    bucket.count++;
    if (bucket.examples.length < EXAMPLES) bucket.examples.push(ex);
  };
  const groups = (r: Replay) => {
    const g = new Map<string, string[]>();
    for (const [sr, id] of r.group) g.set(id, [...(g.get(id) ?? []), sr]);
    return g;
  };
  const ga = groups(a);
  const gb = groups(b);
  // the store's member of a replayed group (the one most of its source records are in)
  const storeMember = (srs: string[]) => {
    const n = new Map<string, number>();
    for (const s of srs) n.set(storeOf.get(s)!, (n.get(storeOf.get(s)!) ?? 0) + 1);
    return [...n].sort((x, y) => y[1] - x[1])[0][0];
  };
  const storeGroups = new Map<string, Set<string>>();
  for (const [sr, m] of storeOf) (storeGroups.get(m) ?? storeGroups.set(m, new Set()).get(m)!).add(sr);
  for (const srs of ga.values()) {
    const m = storeOf.get(srs[0])!;
    const same = storeGroups.get(m);
    if (!same || same.size !== srs.length || srs.some((s) => storeOf.get(s) !== m)) out.not_reproducible++;
  }
  const placeB = (sr: string) => b.group.get(sr) ?? '(refused)';
  for (const srs of gb.values()) {
    const from = new Set(srs.map((s) => a.group.get(s) ?? '(refused)'));
    if (from.size > 1) note(out.merge, { members: [...new Set(srs.map((s) => storeOf.get(s)!))], detail: `${from.size} members would be one` });
  }
  for (const srs of ga.values()) {
    const to = new Set(srs.map(placeB));
    if (to.size > 1) note(out.split, { members: [storeMember(srs)], detail: `its source records would go to ${to.size} ${to.has('(refused)') ? 'places (some refused)' : 'members'}` });
  }
  for (const [ida, srs] of ga) {
    const to = new Set(srs.map(placeB));
    if (to.size !== 1) continue;
    const idb = [...to][0];
    if (idb === '(refused)' || gb.get(idb)!.length !== srs.length) continue;
    const x = a.members.get(ida) as unknown as Record<string, unknown>;
    const y = b.members.get(idb) as unknown as Record<string, unknown>;
    const fields = MEMBER_FIELDS.filter((f) => !sameValue(x[f] ?? null, y[f] ?? null));
    if (fields.length > 0) note(out.change, { members: [storeMember(srs)], detail: fields.map((f) => `${f}: ${JSON.stringify(x[f] ?? null)} -> ${JSON.stringify(y[f] ?? null)}`).join(', ') });
  }
  return out;
}
