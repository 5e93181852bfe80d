/**
 * Import one CSV file: streamed in batches through ingest, recorded as a run. A file is
 * remembered once complete, by its content (sha256) and the options that change what
 * importing it does: the same again is skipped (`force` imports it anyway), the same bytes
 * read another way are not. Stopped by `signal`, it ends after the batch in hand: the run
 * is `interrupted`, the file not remembered, so importing it again continues (the rows
 * already in come out unchanged).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { BUILTIN_MAPPINGS, detectMapping, loadMapping, mappingDigest, otherColumns, type Mapping } from '../csv/mappings.js';
import { readCsv, readHeader, sniffEncoding, type InputEncoding } from '../csv/read-csv.js';
import { createRun, finishRun, interruptRun } from '../store/runs-repo.js';
import type { RunCounts } from '../types.js';
import { ingest, type InputBatch } from './ingest.js';

export interface ImportOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  connection?: string;
  /**
   * the file source the rows are records of, without a connection (`file:<name>`): rows of
   * several files of one source restate the same source records @defaultValue the mapping's name
   */
  source?: string;
  /** a built-in mapping's name or a YAML file; none: the built-in one the headers fit (detectMapping) */
  mapping?: string;
  /** of a file without a BOM; @defaultValue 'utf8' */
  encoding?: InputEncoding;
  dryRun?: boolean;
  /** import even if this content was imported before with the same options */
  force?: boolean;
  /** take rows whose keys match an erased person's tombstone (else rejected `erased`) */
  allowErased?: boolean;
  parentRunId?: number;
  /** stop after the batch in hand (Ctrl-C): the run is recorded `interrupted` */
  signal?: AbortSignal;
  onProgress?(done: number, total: number, counts: RunCounts): void;
}

export interface ImportSummary extends RunCounts {
  run_id: number | null;
  file: string;
  sha256: string;
  dry_run: boolean;
  /** the mapping the file was read with */
  mapping: string;
  /** whether it was chosen from the headers (no mapping was asked for) */
  mapping_detected: boolean;
  /** columns the mapping does not know: their values are kept under `other` */
  other_columns: string[];
  /** set when stopped on request before the end of the file */
  interrupted?: boolean;
  /** set when the same content was imported before and nothing was done */
  skipped?: { reason: string; previous_run_id: number };
}

/**
 * The options that change what importing the same bytes does, as the stable string an
 * imported file is remembered by beside its sha256; `''` for the defaults (which is what
 * files imported before this key existed were read with). `source` is who the rows are
 * attributed to when it is not the connection.
 */
export function importOptionsKey(o: { mapping: Mapping; encoding?: string; connection?: string; source?: string }): string {
  const builtin = BUILTIN_MAPPINGS.includes(o.mapping.name) && mappingDigest(loadMapping(o.mapping.name)) === mappingDigest(o.mapping);
  const key: Record<string, string> = {};
  if (!(builtin && o.mapping.name === 'canonical')) key.mapping = builtin ? o.mapping.name : `${o.mapping.name}#${mappingDigest(o.mapping)}`;
  if (o.encoding && o.encoding !== 'utf8') key.encoding = o.encoding;
  if (o.connection) key.connection = o.connection;
  if (o.source) key.source = o.source;
  return Object.keys(key).length === 0 ? '' : JSON.stringify(key);
}

function describeOptions(key: string): string {
  const o = key ? (JSON.parse(key) as Record<string, string>) : {};
  return `mapping ${o.mapping ?? 'canonical'}, encoding ${o.encoding ?? 'utf8'}${o.connection ? `, connection ${o.connection}` : ''}${o.source ? `, source ${o.source}` : ''}`;
}

const listed = (names: string[]) => (names.length > 20 ? `${names.slice(0, 20).join(', ')}, … (${names.length} in all)` : names.join(', '));

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
  if (opts.source !== undefined && (opts.connection || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(opts.source))) {
    throw new InputError(
      opts.connection
        ? `--source names a file source; with --connection the rows are records of connection '${opts.connection}'`
        : `--source: expected a name of letters, digits, '.', '_' and '-' (at most 63), got '${opts.source}'`,
    );
  }
  if (opts.connection && !opts.config.connections[opts.connection]) {
    const known = Object.keys(opts.config.connections);
    throw new InputError(`unknown connection '${opts.connection}'${known.length ? `; configured: ${known.join(', ')}` : '; none is configured'}`);
  }
  // the file may go between the stat and the read (a drop folder emptied by hand)
  const cannotRead = (err: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read ${file}: ${err.code ?? describeError(err)}`, { cause: err });
  };
  const detected = opts.mapping === undefined;
  const mapping = detected ? detectMapping(await readHeader(file, opts.encoding).catch(cannotRead), Boolean(opts.connection)) : loadMapping(opts.mapping);
  const sha256 = await sha256File(file).catch(cannotRead);
  // a BOM says the encoding whatever was asked for
  const { skip: bom } = await sniffEncoding(file, opts.encoding).catch(cannotRead);
  const optionsKey = importOptionsKey({ mapping, encoding: bom ? undefined : opts.encoding, connection: opts.connection, source: opts.source });
  const base = { file, sha256, dry_run: Boolean(opts.dryRun), mapping: mapping.name, mapping_detected: detected, other_columns: [] as string[] };
  if (!opts.force) {
    const prev = await opts.db('imported_files').where({ sha256, options: optionsKey }).first();
    if (prev) {
      return {
        ...base,
        run_id: null,
        rows: 0, created: 0, updated: 0, unchanged: 0, conflicts: 0, rejected: 0,
        skipped: {
          reason: `the same content was imported with the same options (${describeOptions(optionsKey)}) as ${prev.name} in run ${prev.run_id}; --force imports it again`,
          previous_run_id: Number(prev.run_id),
        },
      };
    }
  }
  // the rows are records of the connection, or of a file source (their source records);
  // the run is named after what it read
  const source = opts.connection ?? `file:${opts.source ?? mapping.name}`;
  const runSource = opts.connection ?? `file:${path.basename(file)}`;
  const runId = opts.dryRun ? 0 : await createRun(opts.db, { kind: 'import', source: runSource, parentRunId: opts.parentRunId, details: { file: path.resolve(file), sha256, mapping: mapping.name, ...(opts.connection ? {} : { file_source: source }), ...(optionsKey ? { options: JSON.parse(optionsKey) as unknown } : {}) } });
  const log = opts.log.child({ run: runId || undefined, file: path.basename(file) });
  log.info({ sha256, mapping: mapping.name, mappingDetected: detected, dryRun: Boolean(opts.dryRun) }, 'import started');
  let interrupted = false;
  // checked between batches: the batches read so far are the ones in hand
  async function* untilStopped(batches: AsyncIterable<InputBatch>): AsyncGenerator<InputBatch> {
    for await (const b of batches) {
      if (opts.signal?.aborted) {
        interrupted = true;
        return;
      }
      yield b;
    }
  }
  try {
    const csv = await readCsv(file, size, {
      mapping,
      batchSize: opts.config.import.batchSize,
      encoding: opts.encoding,
      hasConnection: Boolean(opts.connection),
      onHeaders: (plan) => {
        base.other_columns = otherColumns(plan);
        if (base.other_columns.length > 0) log.warn({ columns: base.other_columns }, `columns mapping '${mapping.name}' does not know are kept under other: ${listed(base.other_columns)}`);
      },
    });
    const counts = await ingest(untilStopped(csv.batches), {
      db: opts.db,
      config: opts.config,
      log,
      runId,
      source,
      connection: opts.connection,
      dryRun: opts.dryRun,
      allowErased: opts.allowErased,
      onBatch: (c, b) => opts.onProgress?.(b.position ?? 0, size, c),
    });
    if (interrupted) {
      if (!opts.dryRun) await interruptRun(opts.db, runId, `interrupted after ${counts.rows} rows; import the file again to continue (the rows already in come out unchanged)`);
      log.info({ ...counts }, 'import interrupted');
      return { ...base, run_id: opts.dryRun ? null : runId, ...counts, interrupted: true };
    }
    if (!opts.dryRun) {
      await opts.db('imported_files').insert({ sha256, options: optionsKey, name: path.basename(file), size, run_id: runId }).onConflict(['sha256', 'options']).ignore();
      await finishRun(opts.db, runId, 'succeeded');
    }
    log.info({ ...counts }, 'import finished');
    return { ...base, run_id: opts.dryRun ? null : runId, ...counts };
  } catch (err) {
    if (!opts.dryRun) await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}
