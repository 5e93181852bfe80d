/**
 * Rows already applied (migration 005): a record's fingerprint -> the member that absorbed
 * it. An entry exists only while that member is unchanged (the members triggers remove it),
 * so a record whose fingerprint is here would change nothing if it were decided again.
 */
import type { Knex } from 'knex';
import { copyRows } from './copy.js';

/** The entries among `fps`: fingerprint -> member id. */
export async function seenMembers(db: Knex | Knex.Transaction, fps: string[]): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  if (fps.length === 0) return seen;
  const { rows } = await db.raw('select fp::text as fp, member_id::text as member_id from seen_rows where fp = any(?::uuid[])', [fps]);
  for (const r of rows as { fp: string; member_id: string }[]) seen.set(r.fp, r.member_id);
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
