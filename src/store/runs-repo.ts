/** Runs: one execution of import, pull, push, migrate or revert, with its counts. */
import type { Knex } from 'knex';
import type { RunCounts, RunKind, RunStatus } from '../types.js';

export interface RunRow extends RunCounts {
  id: number;
  kind: RunKind;
  source: string | null;
  status: RunStatus;
  parent_run_id: number | null;
  dry_run: boolean;
  details: Record<string, unknown>;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
}

export async function createRun(
  db: Knex | Knex.Transaction,
  fields: { kind: RunKind; source?: string; parentRunId?: number; dryRun?: boolean; details?: Record<string, unknown> },
): Promise<number> {
  const [row] = await db('runs')
    .insert({
      kind: fields.kind,
      source: fields.source ?? null,
      parent_run_id: fields.parentRunId ?? null,
      dry_run: fields.dryRun ?? false,
      details: JSON.stringify(fields.details ?? {}),
    })
    .returning('id');
  return Number(row.id);
}

export async function addRunCounts(db: Knex | Knex.Transaction, runId: number, c: Partial<RunCounts>): Promise<void> {
  await db('runs')
    .where({ id: runId })
    .update({
      rows: db.raw('rows + ?', [c.rows ?? 0]),
      created: db.raw('created + ?', [c.created ?? 0]),
      updated: db.raw('updated + ?', [c.updated ?? 0]),
      unchanged: db.raw('unchanged + ?', [c.unchanged ?? 0]),
      conflicts: db.raw('conflicts + ?', [c.conflicts ?? 0]),
      rejected: db.raw('rejected + ?', [c.rejected ?? 0]),
    });
}

export async function finishRun(
  db: Knex,
  runId: number,
  status: RunStatus,
  extra: { error?: string; details?: Record<string, unknown> } = {},
): Promise<void> {
  await db('runs')
    .where({ id: runId })
    .update({
      status,
      finished_at: db.fn.now(),
      error: extra.error ?? null,
      ...(extra.details ? { details: db.raw('details || ?::jsonb', [JSON.stringify(extra.details)]) } : {}),
    });
}

export async function getRun(db: Knex, runId: number): Promise<RunRow | undefined> {
  return db('runs').where({ id: runId }).first();
}

export async function listRuns(db: Knex, limit = 50): Promise<RunRow[]> {
  return db('runs').orderBy('id', 'desc').limit(limit);
}
