/**
 * The bookkeeping every hostile-input and fault test checks: rows read = created +
 * updated + unchanged + conflicts + rejected, in the summary, in the run row and in the
 * rejects table; every reject names its line and keeps a bounded copy of the row.
 */
import { expect } from 'vitest';
import type { Knex } from 'knex';
import type { RunCounts } from '../../src/types.js';

/** What a reject may hold at most: RAW_ROW_CHARS plus keys and the truncation notes. */
export const MAX_REJECT_RAW_BYTES = 80_000;

export function expectBalanced(c: RunCounts): void {
  expect(c.rows, JSON.stringify(c)).toBe(c.created + c.updated + c.unchanged + c.conflicts + c.rejected);
}

export interface RunReport {
  run: Record<string, unknown> & RunCounts;
  rejects: { line: number | null; reason: string; raw: Record<string, string> }[];
}

/** Checks the run row against the summary and the rejects table; returns both. */
export async function checkRun(db: Knex, runId: number, summary?: RunCounts): Promise<RunReport> {
  const run = await db('runs').where({ id: runId }).first();
  expectBalanced(run);
  if (summary) {
    expectBalanced(summary);
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
