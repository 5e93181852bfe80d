/**
 * Runs: one execution of import, pull, push, migrate or revert, with its counts. Status:
 * `running`, then `succeeded`, `failed` (with the error), or `interrupted` (stopped on
 * request — Ctrl-C — after a committed batch: its counts are what was committed, and the
 * same command run again continues).
 */
import { statSync } from 'node:fs';
import os from 'node:os';
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
  await closeAbandonedRuns(db);
  const [row] = await db('runs')
    .insert({
      kind: fields.kind,
      source: fields.source ?? null,
      parent_run_id: fields.parentRunId ?? null,
      dry_run: fields.dryRun ?? false,
      // who runs it, so that a run left `running` by a killed process can be told apart
      details: JSON.stringify({ ...fields.details, process: { host: HOST, pid: process.pid } }),
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

/** The run stopped on request after the batch in hand; `note` says how to continue. */
export async function interruptRun(db: Knex, runId: number, note: string): Promise<void> {
  await finishRun(db, runId, 'interrupted', { error: note });
}

export async function getRun(db: Knex, runId: number): Promise<RunRow | undefined> {
  await closeAbandonedRuns(db);
  return db('runs').where({ id: runId }).first();
}

export async function listRuns(db: Knex, limit = 50): Promise<RunRow[]> {
  await closeAbandonedRuns(db);
  return db('runs').orderBy('id', 'desc').limit(limit);
}

const HOST = os.hostname();
const STARTED_MS = Date.now() - process.uptime() * 1000;

/**
 * Whether process `pid` of this machine could still be running a run that began at
 * `since`: it exists, and (where /proc tells) it started before the run did — a pid taken
 * again by a later process (a restarted container's pid 1) is not the run's.
 */
function processAlive(pid: number, since: Date): boolean {
  if (pid === process.pid) return STARTED_MS <= since.getTime() + 1000;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return statSync(`/proc/${pid}`).ctimeMs <= since.getTime() + 1000;
  } catch {
    return true;
  }
}

/**
 * Runs left `running` by a process of this machine that is gone (SIGKILL, OOM, power
 * loss) are marked failed, with the reason. Their counts stay what their committed batches
 * added. Runs of other machines are left alone: their process cannot be checked from here.
 */
export async function closeAbandonedRuns(db: Knex | Knex.Transaction): Promise<number[]> {
  const rows: { id: number; started_at: Date; pid: string | null }[] = await db('runs')
    .where({ status: 'running' })
    .whereRaw(`details->'process'->>'host' = ?`, [HOST])
    .select('id', 'started_at', db.raw(`details->'process'->>'pid' as pid`));
  const gone = rows.filter((r) => r.pid !== null && !processAlive(Number(r.pid), new Date(r.started_at)));
  for (const r of gone) {
    await db('runs')
      .where({ id: r.id, status: 'running' })
      .update({ status: 'failed', finished_at: db.fn.now(), error: `abandoned: process ${r.pid} ended without finishing the run (killed?); its committed batches are kept` });
  }
  return gone.map((r) => Number(r.id));
}
