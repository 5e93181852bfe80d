/**
 * The bookkeeping every hostile-input and fault test checks: rows read = created +
 * updated + unchanged + conflicts + rejected, in the summary, in the run row and in the
 * rejects table; every reject names its line and keeps a bounded copy of the row.
 *
 * The counters are computed to add up, so adding them up proves little: each is also held
 * against what is there independently of them — the input's row count when the caller
 * knows it, the rows of the rejects and conflicts tables for the run, the members the run
 * created, and the members whose change log names the run.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Knex } from 'knex';
import type { RunCounts } from '../../src/types.js';

/** What a reject may hold at most: RAW_ROW_CHARS plus keys and the truncation notes. */
export const MAX_REJECT_RAW_BYTES = 80_000;

/** Data rows of a simple CSV file (one record a line, header first): the input's own count. */
export function csvDataRows(file: string): number {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').length - 1;
}

const count = async (q: Knex.QueryBuilder): Promise<number> => Number((await q.count({ n: '*' }).first())?.n ?? 0);

/**
 * A run's counts against independent facts: `inputRows` (what the caller wrote) and, for a
 * run that was written (`run_id`), the store.
 */
export async function expectBalanced(db: Knex, c: RunCounts & { run_id?: number | null; id?: number }, facts: { inputRows?: number } = {}): Promise<void> {
  const what = JSON.stringify(c).slice(0, 400);
  expect(c.rows, what).toBe(c.created + c.updated + c.unchanged + c.conflicts + c.rejected);
  if (facts.inputRows !== undefined) expect(c.rows, `rows read, against the input's ${facts.inputRows}: ${what}`).toBe(facts.inputRows);
  const runId = c.run_id ?? c.id;
  if (!runId) return;
  expect(await count(db('rejects').where({ run_id: runId })), `rejects rows of run ${runId}: ${what}`).toBe(c.rejected);
  // a record refused again updates its open conflict: each run's refusals are counted in conflict_sightings
  expect(Number((await db('conflict_sightings').where({ run_id: runId }).sum({ n: 'times' }).first())?.n ?? 0), `conflicts of run ${runId}: ${what}`).toBe(c.conflicts);
  expect(await count(db('members').where({ created_run_id: runId })), `members created by run ${runId}: ${what}`).toBe(c.created);
  // members this run changed that it did not create: each took at least one updating row
  const changed = Number(
    (
      await db.raw<{ rows: { n: string }[] }>(
        'select count(distinct c.member_id) as n from member_changes c join members m on m.id = c.member_id where c.run_id = ? and m.created_run_id is distinct from ?',
        [runId, runId],
      )
    ).rows[0].n,
  );
  expect(changed, `members updated by run ${runId}, against updated: ${what}`).toBeLessThanOrEqual(c.updated);
  if (changed > 0) expect(c.updated, what).toBeGreaterThan(0);
}

export interface RunReport {
  run: Record<string, unknown> & RunCounts;
  rejects: { line: number | null; reason: string; raw: Record<string, string> }[];
}

/** Checks the run row against the summary and the rejects table; returns both. */
export async function checkRun(db: Knex, runId: number, summary?: RunCounts): Promise<RunReport> {
  const run = await db('runs').where({ id: runId }).first();
  await expectBalanced(db, run);
  if (summary) {
    await expectBalanced(db, summary);
    for (const k of ['rows', 'created', 'updated', 'unchanged', 'conflicts', 'rejected'] as const) expect(run[k], k).toBe(summary[k]);
  }
  const rejects = await db('rejects').where({ run_id: runId }).orderBy('id');
  expect(rejects.length).toBe(run.rejected);
  for (const r of rejects) {
    expect(r.line, JSON.stringify(r).slice(0, 300)).toBeGreaterThan(0);
    expect(r.reason).toMatch(/\S/);
    expect(Buffer.byteLength(JSON.stringify(r.raw))).toBeLessThan(MAX_REJECT_RAW_BYTES);
  }
  return { run, rejects };
}
