/**
 * Import through the same `importFile` as `member-sync import`, plus what a drop folder
 * needs: the file moved to processed/ or failed/ and its rejects written beside it.
 *
 * Stopping between batches: when the worker is stopping (or loses the job), importFile
 * ends after the batch in hand, its run marked interrupted, and the step throws an
 * InterruptedError. Running it again imports the rest (rows already in come out
 * unchanged), because a file is only recorded as imported once complete.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import type { InputEncoding } from '../csv/read-csv.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { importFile, type ImportSummary } from '../pipeline/import-file.js';
import { ensureDropFolder, FAILED, moveInto, PROCESSED, waitingFiles, writeErrorNote, writeRejectsCsv } from './drop-files.js';
import { InterruptedError } from './queue-errors.js';
import type { ImportResult } from './step-results.js';

export interface ImportUnitOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  mapping?: string;
  connection?: string;
  encoding?: InputEncoding;
  signal?: AbortSignal;
  parentRunId?: number;
  /** move the file to processed/ or failed/ (drop folders) */
  file?: boolean;
  /** whether a failure is the last try (the file then goes to failed/) */
  isFinal?(err: unknown): boolean;
}

export function toImportResult(s: ImportSummary): ImportResult {
  const { run_id, file, rows, created, updated, unchanged, conflicts, rejected, skipped } = s;
  return { step: 'import', file, run_id, rows, created, updated, unchanged, conflicts, rejected, ...(skipped ? { skipped: skipped.reason } : {}) };
}

async function lastRunOf(db: Knex, file: string): Promise<number | undefined> {
  const row = await db('runs').where({ kind: 'import' }).whereRaw(`details->>'file' = ?`, [path.resolve(file)]).orderBy('id', 'desc').first('id');
  return row ? Number(row.id) : undefined;
}

export async function importOne(file: string, opts: ImportUnitOptions): Promise<ImportResult> {
  let summary: ImportSummary;
  try {
    summary = await importFile(file, {
      db: opts.db,
      config: opts.config,
      log: opts.log,
      mapping: opts.mapping,
      connection: opts.connection,
      encoding: opts.encoding,
      parentRunId: opts.parentRunId,
      signal: opts.signal,
    });
    if (summary.interrupted) throw new InterruptedError();
  } catch (err) {
    if (opts.file && !(err instanceof InterruptedError) && !opts.signal?.aborted && (opts.isFinal?.(err) ?? true)) {
      const moved = await moveInto(file, FAILED);
      if (moved) {
        await writeErrorNote(moved, describeError(err));
        const runId = await lastRunOf(opts.db, file);
        if (runId) await writeRejectsCsv(opts.db, runId, moved);
        opts.log.warn({ file: moved, err }, 'import failed; file moved to failed/');
      }
    }
    throw err;
  }
  const result = toImportResult(summary);
  if (!opts.file) return result;
  const moved = await moveInto(file, PROCESSED);
  if (!moved) return result;
  result.moved_to = moved;
  if (summary.run_id && summary.rejected > 0) result.rejects_csv = await writeRejectsCsv(opts.db, summary.run_id, moved);
  return result;
}

/**
 * An `import:` step: a folder imports the files waiting in it (each once, by content) and
 * files them; a file is imported in place (the same content again is skipped). A path
 * ending in `/` is a folder, created when missing.
 */
export async function importPath(given: string, opts: ImportUnitOptions): Promise<ImportResult[]> {
  const target = path.resolve(given);
  if (/[/\\]$/.test(given)) await ensureDropFolder(target);
  const st = await stat(target).catch(() => undefined);
  if (!st?.isDirectory()) return [await importOne(target, { ...opts, file: false })];
  const results: ImportResult[] = [];
  for (const file of await waitingFiles(target, opts.config.dropFolder.stableMs)) {
    if (opts.signal?.aborted) throw new InterruptedError();
    try {
      results.push(await importOne(file, { ...opts, file: true }));
    } catch (err) {
      // a file that failed for good is in failed/ now: report it and go on with the others
      if (err instanceof InterruptedError || opts.signal?.aborted || !(opts.isFinal?.(err) ?? true)) throw err;
      results.push({ step: 'import', file, run_id: null, rows: 0, created: 0, updated: 0, unchanged: 0, conflicts: 0, rejected: 0, error: describeError(err) });
    }
  }
  return results;
}
