/**
 * The ingest stage shared by import and pull: batches of mapped records -> normalize ->
 * match -> merge -> store. Each batch is one transaction: one advisory lock (batches of
 * all processes are decided one at a time, so input order holds across them), one query
 * per key kind, one statement per table, the run's counts and the checkpoint.
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import { decideBatch, type BatchItem, type BatchOutcome } from '../members/decide-batch.js';
import type { WorkingSet } from '../members/working-set.js';
import { normalizeRecord } from '../members/normalize.js';
import { uuidv7 } from '../members/uuid7.js';
import { keysOf, loadWorkingSet, takeIngestLock, writeOutcome } from '../store/members-repo.js';
import { addRunCounts } from '../store/runs-repo.js';
import { recordSeen, seenMembers } from '../store/seen-repo.js';
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

export function trustResolver(config: Readonly<Config>): (src: string) => number {
  return (src) => config.connections[src]?.trust ?? (src.startsWith('file:') ? config.import.fileTrust : 0);
}

/**
 * What shapes the decision on a record besides its values and the member it reaches:
 * normalization, matching and every trust rank. Part of each fingerprint, so that
 * changing one of them makes every record new again. Bump the version when the rules do.
 */
function fingerprintSalt(config: Readonly<Config>): string {
  const trust = Object.entries(config.connections).map(([name, c]) => [name, c.trust]);
  return JSON.stringify({ v: 1, normalize: config.normalize, matching: config.matching, fileTrust: config.import.fileTrust, trust });
}

// crypto.hash (Node 20.12+) hashes a string in one call, about twice as fast as createHash
const sha256hex: (data: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

/** A record's fingerprint: a UUID-shaped digest of the salt and its mapped values. */
function fingerprint(salt: string, item: InputRecord): string {
  const x = sha256hex(item.other ? `${salt}${JSON.stringify(item.values)}${JSON.stringify(item.other)}` : `${salt}${JSON.stringify(item.values)}`);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * A batch item ready to be decided: a record with a fingerprint waits unnormalized until
 * the fingerprint is looked up (most records of a file imported again were seen and are
 * never normalized); the others are normalized while the batch before is written.
 */
type Prepared = BatchItem | { ok: 'lazy'; input: InputRecord; fp: string };

function normalizeItem(item: InputRecord, config: Readonly<Config>, fp?: string): BatchItem {
  const r = normalizeRecord(item, { defaultCountry: config.normalize.defaultCountry });
  if (!r.ok) return { ok: false, ref: item.ref, reason: r.reason, raw: item.raw };
  return fp === undefined ? r : { ok: true, record: r.record, fp };
}

function prepareItems(items: InputItem[], opts: IngestOptions, salt: string | undefined): Prepared[] {
  return items.map((item): Prepared => {
    if ('rejected' in item) return { ok: false, ref: item.ref, reason: item.reason, raw: item.raw };
    return salt === undefined ? normalizeItem(item, opts.config) : { ok: 'lazy', input: item, fp: fingerprint(salt, item) };
  });
}

/** Sources of the runs that set the fields of a batch's members, for the trust rule. */
async function learnRunSources(trx: Knex | Knex.Transaction, set: WorkingSet, known: Map<number, string>): Promise<void> {
  const want = new Set<number>();
  for (const m of set.members.values()) {
    if (m.created_run_id !== null && !known.has(m.created_run_id)) want.add(m.created_run_id);
    for (const run of Object.values(m.provenance)) if (!known.has(run)) want.add(run);
  }
  if (want.size === 0) return;
  const rows: { id: number; source: string | null }[] = await trx('runs').select('id', 'source').whereIn('id', [...want]);
  for (const r of rows) known.set(Number(r.id), r.source ?? '');
}

/** A batch decided: what it counts and writes, and the working set it leaves. */
interface Decided {
  /** records of the batch (the records themselves are not kept while it is written) */
  rows: number;
  set: WorkingSet;
  out: BatchOutcome;
}

/**
 * Decide a batch. Under the members lock, in the batch's transaction (`db` = trx); or
 * ahead of time, on another connection, as if `after` (the batch being written) had
 * committed: its working set overlays what the store says.
 */
async function decideIn(db: Knex | Knex.Transaction, prepared: Prepared[], opts: IngestOptions, runSources: Map<number, string>, after?: Decided): Promise<Decided> {
  const settle = settles(opts);
  // records an unchanged member already absorbed are not decided again...
  const lazy = prepared.flatMap((p) => (p.ok === 'lazy' ? [p.fp] : []));
  const seen = lazy.length > 0 ? await seenMembers(db, lazy) : new Map<string, string>();
  // (a member the batch before changed has forgotten its rows)
  if (after) for (const [fp, id] of seen) if (after.out.updated.has(id)) seen.delete(fp);
  let items = prepared.map((p): BatchItem => {
    if (p.ok !== 'lazy') return p;
    return seen.has(p.fp) ? { ok: true, seen: seen.get(p.fp)! } : normalizeItem(p.input, opts.config, p.fp);
  });
  const records = items.flatMap((i) => (i.ok && i.record ? [i.record] : []));
  const set = await loadWorkingSet(db, keysOf(records, opts.connection), after?.set);
  // ...unless another record of the batch reaches their member: then order decides. Their
  // keys are that member's, which is in the set already.
  if (seen.size > 0) {
    items = items.map((i, n) => {
      if (!i.ok || i.seen === undefined || !set.members.has(i.seen)) return i;
      const p = prepared[n] as { input: InputRecord; fp: string };
      return normalizeItem(p.input, opts.config, p.fp);
    });
  }
  const trustOf = trustResolver(opts.config);
  await learnRunSources(db, set, runSources);
  const out = decideBatch(items, set, {
    source: opts.source,
    sourceTrust: trustOf(opts.source),
    trustOf,
    sourceOfRun: (id) => runSources.get(id),
    runId: opts.runId,
    allowDuplicateEmails: opts.config.matching.allowDuplicateEmails,
    connection: opts.connection,
    newId: () => uuidv7(),
    settle,
  });
  return { rows: items.length, set, out };
}

/** Write a decided batch, its counts and its checkpoint. Call inside its transaction. */
async function writeDecided(trx: Knex.Transaction, d: Decided, batch: InputBatch, opts: IngestOptions): Promise<RunCounts> {
  await writeOutcome(trx, d.out, opts.runId, opts.source);
  await recordSeen(trx, d.out.settled);
  const counts: RunCounts = { rows: d.rows, ...d.out.counts };
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

/**
 * Fingerprints are kept for file imports without a connection while e-mails are unique:
 * then a record's identity keys, all held by one unchanged member, can reach no one else.
 */
function settles(opts: IngestOptions): boolean {
  return opts.config.import.seenRows && !opts.connection && !opts.config.matching.allowDuplicateEmails;
}

function add(total: RunCounts, c: RunCounts): void {
  for (const k of Object.keys(total) as (keyof RunCounts)[]) total[k] += c[k];
}

/** Ingest every batch; returns the run's counts. rows = created+updated+unchanged+conflicts+rejected. */
export async function ingest(batches: AsyncIterable<InputBatch>, opts: IngestOptions): Promise<RunCounts> {
  const total = emptyCounts();
  const runSources = new Map<number, string>([[opts.runId, opts.source]]);
  const salt = settles(opts) ? fingerprintSalt(opts.config) : undefined;
  // One batch ahead: the next batch is read and prepared while this one is decided and
  // written. At most one waits, so memory stays bounded.
  const it = batches[Symbol.asyncIterator]();
  const read = async (): Promise<[InputBatch, Prepared[]] | undefined> => {
    const r = await it.next();
    return r.done ? undefined : [r.value, prepareItems(r.value.items, opts, salt)];
  };
  if (opts.dryRun) {
    // A dry run decides everything in one transaction that is rolled back: later batches
    // still see what earlier ones would have created.
    const dryTrx = await opts.db.transaction();
    try {
      for (let next = read(); ; ) {
        const cur = await next;
        if (!cur) break;
        next = read();
        // a failure of the read-ahead surfaces when it is awaited, not as an unhandled rejection
        next.catch(() => undefined);
        const [batch, items] = cur;
        if (batch.items.length === 0) continue;
        add(total, await writeDecided(dryTrx, await decideIn(dryTrx, items, opts, runSources), batch, opts));
        opts.onBatch?.(total, batch);
      }
    } finally {
      await dryTrx.rollback().catch(() => undefined);
      await it.return?.();
    }
    return total;
  }
  // While the database writes batch N, batch N+1 is decided on another connection as if N
  // had committed. Under N+1's lock that decision is used if no one else held the lock since
  // N (the lock's generation is N's + 1); otherwise N+1 is decided again.
  type Ahead = { epoch: number; decided: Decided };
  let ahead: Ahead | undefined;
  const decidedAhead = { used: 0, redone: 0 };
  let next = read();
  try {
    for (;;) {
      const cur = await next;
      if (!cur) break;
      const [batch, prepared] = cur;
      const upcoming = read();
      upcoming.catch(() => undefined);
      if (batch.items.length === 0) {
        next = upcoming;
        continue;
      }
      let counts: RunCounts | undefined;
      for (let attempt = 1; !counts; attempt++) {
        let trx: Knex.Transaction | undefined;
        let writing: Promise<RunCounts> | undefined;
        try {
          trx = await opts.db.transaction();
          const tx = trx;
          const epoch = await takeIngestLock(trx);
          const useAhead = ahead !== undefined && ahead.epoch === epoch - 1;
          if (ahead) decidedAhead[useAhead ? 'used' : 'redone']++;
          const decided = useAhead ? ahead!.decided : await decideIn(trx, prepared, opts, runSources);
          ahead = undefined;
          writing = writeDecided(tx, decided, batch, opts).then(async (c) => {
            // knex's commit() resolves even when the COMMIT fails (a session lost between
            // statements); the transaction's own promise says whether it committed
            await tx.commit();
            await tx.executionPromise;
            return c;
          });
          writing.catch(() => undefined);
          // a failure to read or to decide ahead surfaces (or is redone) after this batch
          const nx = await upcoming.catch(() => undefined);
          if (nx && nx[0].items.length > 0) {
            ahead = await decideIn(opts.db, nx[1], opts, runSources, decided)
              .then((d) => ({ epoch, decided: d }))
              .catch(() => undefined);
          }
          counts = await writing;
        } catch (err) {
          ahead = undefined;
          if (writing) await writing.catch(() => undefined);
          // a transaction knex closed because its session died says only "already complete"
          // to the next statement; its own error says why
          const cause = trx?.isCompleted() ? await trx.executionPromise.then(() => undefined, (e: unknown) => e) : undefined;
          await trx?.rollback().catch(() => undefined);
          if (attempt >= 4 || !(isRetryable(err) || isRetryable(cause))) throw err;
          opts.log.warn({ attempt, err }, 'batch failed with a transient database error; retrying');
          await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        }
      }
      add(total, counts);
      opts.onBatch?.(total, batch);
      next = upcoming;
    }
  } finally {
    await it.return?.();
  }
  opts.log.debug({ decidedAhead }, 'batches decided while the one before was written');
  return total;
}
