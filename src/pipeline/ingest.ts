/**
 * The ingest stage shared by import and pull: batches of mapped records -> normalize ->
 * match -> merge -> store. Each batch is one transaction: one advisory lock (batches of
 * all processes are decided one at a time, so input order holds across them), one query
 * per key kind, one statement per table, the run's counts and the checkpoint.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import { decideBatch, type BatchItem } from '../members/decide-batch.js';
import type { WorkingSet } from '../members/working-set.js';
import { normalizeRecord } from '../members/normalize.js';
import { uuidv7 } from '../members/uuid7.js';
import { keysOf, loadWorkingSet, writeOutcome } from '../store/members-repo.js';
import { addRunCounts } from '../store/runs-repo.js';
import { emptyCounts, type InputRecord, type NormalizedRecord, type RecordRef, type RunCounts } from '../types.js';

export type InputItem = InputRecord | { rejected: true; ref: RecordRef; reason: string; raw: Record<string, unknown> };

export interface InputBatch {
  items: InputItem[];
  /** saved with the batch, in the same transaction */
  checkpoint?: { key: string; cursor: unknown };
  /** progress: bytes of the file read so far */
  position?: number;
}

export interface IngestOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  runId: number;
  /** who sets fields: a connection name or `file:<name>` */
  source: string;
  /** the connection whose external ids make links */
  connection?: string;
  dryRun?: boolean;
  onBatch?(counts: RunCounts, batch: InputBatch): void;
}

const INGEST_LOCK = 727002;

export function trustResolver(config: Readonly<Config>): (src: string) => number {
  return (src) => config.connections[src]?.trust ?? (src.startsWith('file:') ? config.import.fileTrust : 0);
}

function normalizeItems(items: InputItem[], config: Readonly<Config>): BatchItem[] {
  return items.map((item): BatchItem => {
    if ('rejected' in item) return { ok: false, ref: item.ref, reason: item.reason, raw: item.raw };
    const r = normalizeRecord(item, { defaultCountry: config.normalize.defaultCountry });
    return r.ok ? r : { ok: false, ref: item.ref, reason: r.reason, raw: item.raw };
  });
}

/** Sources of the runs that set the fields of a batch's members, for the trust rule. */
async function learnRunSources(trx: Knex.Transaction, set: WorkingSet, known: Map<number, string>): Promise<void> {
  const want = new Set<number>();
  for (const m of set.members.values()) {
    if (m.created_run_id !== null && !known.has(m.created_run_id)) want.add(m.created_run_id);
    for (const run of Object.values(m.provenance)) if (!known.has(run)) want.add(run);
  }
  if (want.size === 0) return;
  const rows: { id: number; source: string | null }[] = await trx('runs').select('id', 'source').whereIn('id', [...want]);
  for (const r of rows) known.set(Number(r.id), r.source ?? '');
}

async function applyBatch(
  trx: Knex.Transaction,
  items: BatchItem[],
  batch: InputBatch,
  opts: IngestOptions,
  runSources: Map<number, string>,
): Promise<RunCounts> {
  await trx.raw('select pg_advisory_xact_lock(?)', [INGEST_LOCK]);
  const records = items.filter((i): i is { ok: true; record: NormalizedRecord } => i.ok).map((i) => i.record);
  const set = await loadWorkingSet(trx, keysOf(records, opts.connection));
  const trustOf = trustResolver(opts.config);
  await learnRunSources(trx, set, runSources);
  const out = decideBatch(items, set, {
    source: opts.source,
    sourceTrust: trustOf(opts.source),
    trustOf,
    sourceOfRun: (id) => runSources.get(id),
    runId: opts.runId,
    allowDuplicateEmails: opts.config.matching.allowDuplicateEmails,
    connection: opts.connection,
    newId: () => uuidv7(),
  });
  await writeOutcome(trx, out, opts.runId, opts.source);
  const counts: RunCounts = { rows: items.length, ...out.counts };
  await addRunCounts(trx, opts.runId, counts);
  if (batch.checkpoint) {
    await trx.raw(
      `insert into checkpoints (key, cursor, run_id, updated_at) values (?, ?::jsonb, ?, now())
       on conflict (key) do update set cursor = excluded.cursor, run_id = excluded.run_id, updated_at = now()`,
      [batch.checkpoint.key, JSON.stringify(batch.checkpoint.cursor ?? null), opts.runId],
    );
  }
  return counts;
}

function add(total: RunCounts, c: RunCounts): void {
  for (const k of Object.keys(total) as (keyof RunCounts)[]) total[k] += c[k];
}

/**
 * One batch ahead: the next batch is read, parsed and normalized while the database
 * writes the current one. At most one batch waits, so memory stays bounded.
 */
async function* readAhead<T, U>(source: AsyncIterable<T>, prepare: (t: T) => U): AsyncGenerator<[T, U]> {
  const it = source[Symbol.asyncIterator]();
  const step = async (): Promise<IteratorResult<[T, U], undefined>> => {
    const r = await it.next();
    return r.done ? { done: true, value: undefined } : { done: false, value: [r.value, prepare(r.value)] };
  };
  let next = step();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = step();
      // a failure of the read-ahead surfaces when it is awaited, not as an unhandled rejection
      next.catch(() => undefined);
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

/** Ingest every batch; returns the run's counts. rows = created+updated+unchanged+conflicts+rejected. */
export async function ingest(batches: AsyncIterable<InputBatch>, opts: IngestOptions): Promise<RunCounts> {
  const total = emptyCounts();
  const runSources = new Map<number, string>([[opts.runId, opts.source]]);
  // A dry run decides everything in one transaction that is rolled back: later batches
  // still see what earlier ones would have created.
  const dryTrx = opts.dryRun ? await opts.db.transaction() : undefined;
  try {
    for await (const [batch, items] of readAhead(batches, (b) => normalizeItems(b.items, opts.config))) {
      if (batch.items.length === 0) continue;
      let counts: RunCounts | undefined;
      for (let attempt = 1; !counts; attempt++) {
        try {
          counts = dryTrx
            ? await applyBatch(dryTrx, items, batch, opts, runSources)
            : await opts.db.transaction((trx) => applyBatch(trx, items, batch, opts, runSources));
        } catch (err) {
          if (dryTrx || attempt >= 4 || !isRetryable(err)) throw err;
          opts.log.warn({ attempt, err }, 'batch failed with a transient database error; retrying');
          await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        }
      }
      add(total, counts);
      opts.onBatch?.(total, batch);
    }
  } finally {
    if (dryTrx) await dryTrx.rollback().catch(() => undefined);
  }
  return total;
}
