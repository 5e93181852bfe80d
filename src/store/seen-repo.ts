/**
 * Rows already applied (migration 005): a record's fingerprint -> the member that absorbed
 * it. An entry exists only while that member is unchanged (the members triggers remove it),
 * so a record whose fingerprint is here would change nothing if it were decided again.
 *
 * Finding an entry is an optimization only: a record whose entry is not found is decided
 * afresh, with the same result (test/property/identity-rules.test.ts). So the lookup may
 * give up where it would cost more than deciding.
 */
import type { Knex } from 'knex';
import { copyRows } from './copy.js';

/** Fingerprints probed one by one per batch, at most, before the pages around them are read. */
const SAMPLES = 64;

/** Whether the index holds a fingerprint (migration 005: those starting with hex 0). */
const indexed = (fp: string): boolean => fp.charCodeAt(0) === 48;

type Hit = { fp: string; member_id: string; page: string };

async function probe(db: Knex | Knex.Transaction, fps: string[]): Promise<Hit[]> {
  if (fps.length === 0) return [];
  const { rows } = await db.raw(
    `select fp::text as fp, member_id::text as member_id, (ctid::text::point)[0]::bigint::text as page
       from seen_rows where fp = any(?::uuid[]) and fp < '10000000-0000-0000-0000-000000000000'`,
    [fps],
  );
  return rows as Hit[];
}

/**
 * The entries among `fps`: fingerprint -> member id.
 *
 * A file imported again mostly repeats its rows in the order they were first written,
 * and the table keeps them in that order. So a sample of the batch (of the one in 16
 * fingerprints the index holds) is looked up first — a batch of new rows stops there —
 * then the table pages around the sample's hits are read whole: a few sequential pages
 * instead of one random index probe per row.
 */
export async function seenMembers(db: Knex | Knex.Transaction, fps: string[]): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  if (fps.length === 0) return seen;
  const probed = fps.filter(indexed);
  const step = Math.max(1, Math.floor(probed.length / SAMPLES));
  const sample = probed.filter((_, i) => i % step === 0);
  const hits = await probe(db, sample);
  for (const h of hits) seen.set(h.fp, h.member_id);
  if (hits.length === 0 || sample.length === fps.length) return seen;
  // runs of nearby pages; a page holds about a hundred entries
  const pages = [...new Set(hits.map((h) => Number(h.page)))].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const p of pages) {
    const last = runs[runs.length - 1];
    if (last && p - last[1] <= 8) last[1] = p;
    else runs.push([p, p]);
  }
  const budget = Math.ceil(fps.length / 25) + 16;
  const span = runs.reduce((n, [a, b]) => n + b - a + 3, 0);
  if (span <= budget) {
    const wanted = new Set(fps);
    for (const [a, b] of runs) {
      const { rows } = await db.raw(
        `select fp::text as fp, member_id::text as member_id from seen_rows
          where ctid >= ?::tid and ctid < ?::tid`,
        [`(${Math.max(0, a - 1)},0)`, `(${b + 2},0)`],
      );
      for (const r of rows as { fp: string; member_id: string }[]) if (wanted.has(r.fp)) seen.set(r.fp, r.member_id);
    }
  }
  // rows not found near the sample: the indexed ones are looked up, unless they are many
  // (a batch of mostly new rows, or in another order: decided afresh)
  const missing = probed.filter((fp) => !seen.has(fp));
  if (missing.length > 0 && missing.length <= probed.length / 4) {
    for (const h of await probe(db, missing)) seen.set(h.fp, h.member_id);
  }
  return seen;
}

/** Record what a batch settled. Call inside the batch's transaction, after its members are written. */
export async function recordSeen(trx: Knex.Transaction, settled: { fp: string; memberId: string }[]): Promise<void> {
  if (settled.length === 0) return;
  // a fingerprint twice in a batch (the same row twice) names the same member: written once
  const byFp = new Map<string, string>();
  for (const s of settled) byFp.set(s.fp, s.memberId);
  await copyRows(trx, 'seen_rows', ['fp', 'member_id'], [...byFp].map(([fp, id]) => [fp, id]));
}
