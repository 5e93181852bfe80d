/**
 * Import one CSV file: recognized by sha256 (the same content twice changes nothing),
 * streamed in batches through ingest, recorded as a run.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadMapping } from '../csv/mappings.js';
import { readCsv } from '../csv/read-csv.js';
import { createRun, finishRun } from '../store/runs-repo.js';
import type { RunCounts } from '../types.js';
import { ingest } from './ingest.js';

export interface ImportOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  connection?: string;
  mapping?: string;
  encoding?: 'latin1' | 'utf8';
  dryRun?: boolean;
  /** import even if this content was imported before */
  force?: boolean;
  parentRunId?: number;
  onProgress?(done: number, total: number, counts: RunCounts): void;
}

export interface ImportSummary extends RunCounts {
  run_id: number | null;
  file: string;
  sha256: string;
  dry_run: boolean;
  /** set when the same content was imported before and nothing was done */
  skipped?: { reason: string; previous_run_id: number };
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function importFile(file: string, opts: ImportOptions): Promise<ImportSummary> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new InputError(`${file}: not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`);
  }
  if (opts.connection && !opts.config.connections[opts.connection]) {
    const known = Object.keys(opts.config.connections);
    throw new InputError(`unknown connection '${opts.connection}'${known.length ? `; configured: ${known.join(', ')}` : '; none is configured'}`);
  }
  const mapping = loadMapping(opts.mapping);
  // the file may go between the stat and the read (a drop folder emptied by hand)
  const sha256 = await sha256File(file).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read ${file}: ${err.code ?? describeError(err)}`, { cause: err });
  });
  const base = { file, sha256, dry_run: Boolean(opts.dryRun) };
  if (!opts.force) {
    const prev = await opts.db('imported_files').where({ sha256 }).first();
    if (prev) {
      return {
        ...base,
        run_id: null,
        rows: 0, created: 0, updated: 0, unchanged: 0, conflicts: 0, rejected: 0,
        skipped: { reason: `the same content was imported as ${prev.name} in run ${prev.run_id}`, previous_run_id: Number(prev.run_id) },
      };
    }
  }
  const csv = await readCsv(file, size, {
    mapping,
    batchSize: opts.config.import.batchSize,
    encoding: opts.encoding,
    hasConnection: Boolean(opts.connection),
  });
  const source = opts.connection ?? `file:${path.basename(file)}`;
  const runId = opts.dryRun ? 0 : await createRun(opts.db, { kind: 'import', source, parentRunId: opts.parentRunId, details: { file: path.resolve(file), sha256, mapping: mapping.name } });
  const log = opts.log.child({ run: runId || undefined, file: path.basename(file) });
  log.info({ sha256, mapping: mapping.name, dryRun: Boolean(opts.dryRun) }, 'import started');
  try {
    const counts = await ingest(csv.batches, {
      db: opts.db,
      config: opts.config,
      log,
      runId,
      source,
      connection: opts.connection,
      dryRun: opts.dryRun,
      onBatch: (c, b) => opts.onProgress?.(b.position ?? 0, size, c),
    });
    if (!opts.dryRun) {
      await opts.db('imported_files').insert({ sha256, name: path.basename(file), size, run_id: runId }).onConflict('sha256').ignore();
      await finishRun(opts.db, runId, 'succeeded');
    }
    log.info({ ...counts }, 'import finished');
    return { ...base, run_id: opts.dryRun ? null : runId, ...counts };
  } catch (err) {
    if (!opts.dryRun) await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}
