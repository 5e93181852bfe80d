/**
 * `member-sync rules preview`: the identity rules run again over the stored source records,
 * in the order they were first seen, under another config (trust ranks,
 * matching.allowDuplicateEmails), in memory; nothing is written. Reports which members would
 * merge, split or change, with examples.
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
import { rowToMember } from '../store/member-rows.js';
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

export async function previewRules(db: Knex, config: Readonly<Config>): Promise<RulesPreview> {
  const trustOf = trustResolver(config);
  const current = new Map<string, Member>();
  for await (const rows of pages(db, 'members', 'id')) for (const r of rows) current.set(r.id as string, rowToMember(r));
  const set = new WorkingSet();
  const then = new Map<string, string>(); // source record -> member it would be in
  const refused: { sr: SourceRecord; reason: string }[] = [];
  const now = new Map<string, string>();
  const key = (sr: SourceRecord) => `${sr.source}:${sr.key}`;
  let n = 0;
  let seq = 0;
  for await (const rows of pages(db, 'source_records', 'first_run_id, id')) {
    for (const row of rows) {
      n++;
      const sr = rowToSource(row);
      now.set(key(sr), sr.memberId);
      const externalId = sr.key.startsWith('ext:') ? sr.key.slice(4) : undefined;
      const record = { ref: { externalId }, values: sr.values, raw: {} };
      const connection = externalId ? sr.source : undefined;
      const d = decideMatch(record, set, { connection, source: sr.source, sourceKey: sr.key, allowDuplicateEmails: config.matching.allowDuplicateEmails });
      if (d.type === 'conflict') {
        refused.push({ sr, reason: d.reason });
        continue;
      }
      const id = d.type === 'new' ? `p${++seq}` : d.member.id;
      const placed = { ...sr, memberId: id };
      const others = d.type === 'new' ? [] : set.sourceRecordsOf(id);
      const next = computeMember({ id, created_run_id: null }, [...others, placed], trustOf);
      if (d.type === 'match') {
        const clash = keyClash(d.member, next, set, config.matching.allowDuplicateEmails);
        if (clash) {
          refused.push({ sr, reason: clash.reason });
          continue;
        }
        set.replace(next);
      } else set.add(next);
      set.putSource(placed);
      if (externalId && connection) set.addLink(connection, externalId, id);
      then.set(key(sr), id);
    }
  }
  const out: RulesPreview = {
    source_records: n,
    members_now: current.size,
    members_then: set.members.size,
    merge: { count: 0, examples: [] },
    split: { count: 0, examples: [] },
    change: { count: 0, examples: [] },
    conflicts: { count: refused.length, examples: refused.slice(0, EXAMPLES).map((r) => ({ members: [r.sr.memberId], detail: `${key(r.sr)}: ${r.reason}` })) },
  };
  const note = (bucket: { count: number; examples: PreviewExample[] }, ex: PreviewExample) => {
    bucket.count++;
    if (bucket.examples.length < EXAMPLES) bucket.examples.push(ex);
  };
  // today's members of each previewed member, and previewed members of each of today's
  const nowOf = new Map<string, Set<string>>();
  const thenOf = new Map<string, Set<string>>();
  for (const [sr, p] of then) {
    const m = now.get(sr)!;
    (nowOf.get(p) ?? nowOf.set(p, new Set()).get(p)!).add(m);
    (thenOf.get(m) ?? thenOf.set(m, new Set()).get(m)!).add(p);
  }
  for (const r of refused) (thenOf.get(r.sr.memberId) ?? thenOf.set(r.sr.memberId, new Set()).get(r.sr.memberId)!).add('(refused)');
  for (const [p, ms] of nowOf) if (ms.size > 1) note(out.merge, { members: [...ms], detail: `${ms.size} members would be one` });
  for (const [m, ps] of thenOf) if (ps.size > 1) note(out.split, { members: [m], detail: `its source records would go to ${ps.size} ${ps.has('(refused)') ? 'places (some refused)' : 'members'}` });
  for (const [p, ms] of nowOf) {
    if (ms.size !== 1) continue;
    const m = [...ms][0];
    if ((thenOf.get(m)?.size ?? 0) !== 1) continue;
    const a = current.get(m);
    const b = set.members.get(p)!;
    const fields = MEMBER_FIELDS.filter((f) => !sameValue((a as unknown as Record<string, unknown> | undefined)?.[f] ?? null, (b as unknown as Record<string, unknown>)[f] ?? null));
    if (fields.length > 0) note(out.change, { members: [m], detail: fields.map((f) => `${f}: ${JSON.stringify((a as unknown as Record<string, unknown>)?.[f] ?? null)} -> ${JSON.stringify((b as unknown as Record<string, unknown>)[f] ?? null)}`).join(', ') });
  }
  return out;
}
