/**
 * Retention (DESIGN.md "Lifecycle"): rejects and closed conflicts older than their
 * settings are deleted; the change log's old and new values older than theirs are blanked
 * (the fact of the change — member, run, source, field, when — stays; a `status` change
 * keeps its values, which are no personal data and which revert reads). One statement per
 * table; `dryRun` counts instead.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';

type Db = Knex | Knex.Transaction;

export interface PurgeCounts {
  rejects: number;
  conflicts: number;
  change_values: number;
}

const cutoff = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

export async function purgeOld(db: Db, retention: Readonly<Config['retention']>, dryRun = false): Promise<PurgeCounts> {
  const out: PurgeCounts = { rejects: 0, conflicts: 0, change_values: 0 };
  const run = async (where: string, bindings: Knex.RawBinding[], action: string): Promise<number> => {
    if (dryRun) {
      const { rows } = await db.raw(`select count(*)::int as n from ${where}`, bindings);
      return Number(rows[0].n);
    }
    const res: { rowCount?: number } = await db.raw(`${action} ${where}`, bindings);
    return res.rowCount ?? 0;
  };
  if (retention.rejectsDays !== undefined) out.rejects = await run(`rejects where created_at < ?`, [cutoff(retention.rejectsDays)], 'delete from');
  if (retention.conflictsDays !== undefined) {
    out.conflicts = await run(`conflicts where state <> 'open' and coalesce(resolved_at, last_seen_at, created_at) < ?`, [cutoff(retention.conflictsDays)], 'delete from');
  }
  if (retention.changeValuesDays !== undefined) {
    const where = `member_changes where at < ? and field <> 'status' and (old is not null or new is not null)`;
    const bindings = [cutoff(retention.changeValuesDays)];
    if (dryRun) out.change_values = await run(where, bindings, '');
    else {
      const res: { rowCount?: number } = await db.raw(`update member_changes set old = null, new = null where at < ? and field <> 'status' and (old is not null or new is not null)`, bindings);
      out.change_values = res.rowCount ?? 0;
    }
  }
  return out;
}

export function retentionConfigured(retention: Readonly<Config['retention']>): boolean {
  return retention.rejectsDays !== undefined || retention.conflictsDays !== undefined || retention.changeValuesDays !== undefined;
}
