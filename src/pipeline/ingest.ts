/**
 * The ingest stage shared by import and pull: batches of mapped records -> normalize ->
 * match -> merge -> store. Each batch is one transaction: one advisory lock (batches of
 * all processes are decided one at a time, so input order holds across them), a few
 * queries to find the members and source records the batch reaches, one statement per
 * table, the run's counts, the batch's ledger row and the checkpoint.
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import { decideBatch, type BatchItem, type BatchOutcome } from '../members/decide-batch.js';
import { normalizeEmail, normalizeRecord } from '../members/normalize.js';
import { fk, KeyFilter } from '../members/key-filter.js';
import { holdsInput, sourceKeyOf, Stamps } from '../members/source-record.js';
import { uuidv7 } from '../members/uuid7.js';
import { WorkingSet } from '../members/working-set.js';
import { keysOf, loadWorkingSet, takeIngestLock, writeOutcome } from '../store/members-repo.js';
import { applyBatchLifecycle } from '../store/lifecycle-repo.js';
import { erasedHashes, erasureKeyIfAny, keyedHash, recordIdentities } from '../store/erasure-repo.js';
import { addRunCounts } from '../store/runs-repo.js';
import { readStoreKeys, sourceHashes, storeSize } from '../store/source-repo.js';
import { emptyCounts, type InputRecord, type RecordRef, type RunCounts } from '../types.js';

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
  /** who sends the records: a connection name or `file:<name>` */
  source: string;
  /** the connection whose external ids make links */
  connection?: string;
  dryRun?: boolean;
  /** take records whose keys match an erased person's tombstone (else rejected `erased`) */
  allowErased?: boolean;
  /** set by ingest: the tombstones' HMAC key, when anyone was erased */
  erasedKey?: Buffer;
  onBatch?(counts: RunCounts, batch: InputBatch): void;
}

export function trustResolver(config: Readonly<Config>): (src: string) => number {
  return (src) => config.connections[src]?.trust ?? (src.startsWith('file:') ? config.import.fileTrust : 0);
}

/**
 * What shapes a record's canonical values besides its input: normalization. Part of each
 * fingerprint, so that changing it makes every record new again. Bump the version when
 * the normalization does.
 */
function fingerprintSalt(config: Readonly<Config>): string {
  return JSON.stringify({ v: 2, normalize: config.normalize });
}

// crypto.hash (Node 20.12+) hashes a string in one call, about twice as fast as createHash
const sha256hex: (data: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

/** A record's fingerprint: a digest of the salt and its mapped input. */
function fingerprint(salt: string, item: InputRecord): string {
  const x = sha256hex(item.other ? `${salt}${JSON.stringify(item.values)}${JSON.stringify(item.other)}` : `${salt}${JSON.stringify(item.values)}`);
  return x.slice(0, 32);
}

/** The key a record will have at its source, read cheaply before it is normalized. */
function quickKey(item: InputRecord, connection: string | undefined): string | undefined {
  const v = item.values;
  const email = v.email?.trim() ? normalizeEmail(v.email) : undefined;
  return sourceKeyOf({ cons_id: v.cons_id?.trim(), member_id: v.member_id?.trim(), email }, connection ? item.ref.externalId : undefined);
}

/**
 * A batch item ready to be decided: a record waits unnormalized until its source record's
 * fingerprint is looked up (most records of a source read again are unchanged and are
 * never normalized).
 */
type Prepared = Exclude<BatchItem, { ok: true }> | { ok: 'lazy'; input: InputRecord; fp: string; key?: string };

function normalizeItem(p: { input: InputRecord; fp: string }, opts: IngestOptions): BatchItem {
  const r = normalizeRecord(p.input, { defaultCountry: opts.config.normalize.defaultCountry, connection: Boolean(opts.connection) });
  if (!r.ok) return { ok: false, ref: p.input.ref, reason: r.reason, raw: p.input.raw };
  const key = sourceKeyOf(r.record.values, opts.connection ? r.record.ref.externalId : undefined)!;
  return { ok: true, record: r.record, key, fp: p.fp };
}

function prepareItems(items: InputItem[], opts: IngestOptions, salt: string): Prepared[] {
  return items.map((item): Prepared => {
    if ('rejected' in item) return { ok: false, ref: item.ref, reason: item.reason, raw: item.raw };
    return { ok: 'lazy', input: item, fp: fingerprint(salt, item), key: quickKey(item, opts.connection) };
  });
}

/** A batch decided: what it counts and writes, and the working set it leaves. */
interface Decided {
  /** records of the batch (the records themselves are not kept while it is written) */
  rows: number;
  set: WorkingSet;
  out: BatchOutcome;
  /** source records of the batch's keys that its source listed again (lifecycle: no longer removed there) */
  listed: number[];
  /** keys of records a file marks `status: removed` */
  removedKeys: string[];
  /** keys looked up at the source, and how many the store held */
  probed: number;
  found: number;
}

// one clock for every ingest of this process, so that stamps only grow
const stamps = new Stamps();

/**
 * Decide a batch. Under the members lock, in the batch's transaction (`db` = trx); or
 * ahead of time, on another connection, as if `after` (the batch being written, or what a
 * dry run decided so far) had committed: its working set overlays what the store says.
 */
async function decideIn(db: Knex | Knex.Transaction, prepared: Prepared[], opts: IngestOptions, after?: WorkingSet, filter?: KeyFilter): Promise<Decided> {
  // One look-up of the batch's keys at its source: the source records there (their members
  // join the working set) and the fingerprints they hold. A record whose source record holds
  // its fingerprint changes nothing: it is not decided... (Keys the filter knows to be
  // absent are not asked about.)
  if (opts.erasedKey) prepared = await refuseErased(db, prepared, opts, opts.erasedKey);
  const quick = [...new Set(prepared.flatMap((p) => (p.ok === 'lazy' && p.key ? [p.key] : [])))];
  const mayHold = (k: string) => !filter || filter.mayHave(fk.source(opts.source, k));
  const held = new Map<string, { hash: string; id?: number; memberId: string }>(await sourceHashes(db, opts.source, quick.filter(mayHold)));
  if (after) {
    for (const k of quick) {
      const sr = after.bySource(opts.source, k);
      if (sr) held.set(k, sr);
    }
  }
  // ...unless a record before it in the batch has the same key and is decided
  const decided = new Set<string>();
  const items = prepared.map((p): BatchItem => {
    if (p.ok !== 'lazy') return p;
    const h = !opts.config.import.seenRows || p.key === undefined || decided.has(p.key) ? undefined : held.get(p.key);
    // (one the batch before created has no id yet: decided, it comes out unchanged all the same)
    if (h && h.id !== undefined && holdsInput(h.hash, p.fp)) return { ok: true, seen: h.id };
    const item = normalizeItem(p, opts);
    if (item.ok && item.record) decided.add(item.key);
    return item;
  });
  const records = items.flatMap((i) => (i.ok && i.record ? [{ record: i.record, key: i.key }] : []));
  // a key read another way once normalized (none is known to be) is looked up too
  const asked = new Set(quick);
  const unread = [...decided].filter((k) => !asked.has(k));
  for (const [k, v] of await sourceHashes(db, opts.source, unread.filter(mayHold))) held.set(k, v);
  const sourceMembers = [...new Set([...decided].flatMap((k) => (held.has(k) ? [held.get(k)!.memberId] : [])))];
  const keys = keysOf(records, opts.source, opts.connection, sourceMembers);
  if (filter) {
    keys.consIds = keys.consIds.filter((v) => filter.mayHave(fk.cons(v)));
    keys.memberIds = keys.memberIds.filter((v) => filter.mayHave(fk.mid(v)));
    keys.emails = keys.emails.filter((v) => filter.mayHave(fk.email(v)));
  }
  const set = await loadWorkingSet(db, keys, after);
  const out = decideBatch(items, set, {
    source: opts.source,
    connection: opts.connection,
    runId: opts.runId,
    trustOf: trustResolver(opts.config),
    allowDuplicateEmails: opts.config.matching.allowDuplicateEmails,
    newId: () => uuidv7(),
    stamps,
  });
  // every record the source listed, applied, unchanged or refused: its source record was seen
  const listed = [...held.values()].flatMap((h) => (h.id !== undefined ? [h.id] : []));
  const removedKeys = prepared.flatMap((p) => (p.ok === 'lazy' && p.key && p.input.ref.status === 'removed' ? [p.key] : []));
  if (filter) remember(filter, opts.source, out);
  return { rows: items.length, set, out, listed, removedKeys, probed: quick.length, found: held.size };
}

/** The keys a decided batch gives the store, into the filter (before the batch is written: a "maybe" too many is harmless). */
function remember(filter: KeyFilter, source: string, out: BatchOutcome): void {
  for (const w of out.sources.values()) filter.add(fk.source(source, w.sr.key));
  for (const m of [...out.created.values(), ...out.updated.values()]) {
    if (m.cons_id) filter.add(fk.cons(m.cons_id));
    if (m.member_id) filter.add(fk.mid(m.member_id));
    if (m.email) filter.add(fk.email(m.email));
  }
}

/** A key filter and the members lock's generation it is in step with. */
interface Filter {
  f: KeyFilter;
  epoch: number;
}

/**
 * The store's keys, into a filter: read under the members lock the batch holds (`trx`), so
 * the filter holds every key there is; then the batch's own.
 */
async function buildFilter(trx: Knex.Transaction, opts: IngestOptions, d: Decided, epoch: number, size: number): Promise<Filter> {
  const f = new KeyFilter(Math.max(4_000_000, 3 * size));
  const names = { s: (v: string) => fk.source(opts.source, v), c: fk.cons, m: fk.mid, e: fk.email };
  const n = await readStoreKeys(trx, opts.source, (kind, v) => f.add(names[kind](v)));
  remember(f, opts.source, d.out);
  opts.log.debug({ keys: f.size, rows: n }, 'key filter built: keys known absent are not looked up');
  return { f, epoch };
}

/** Write a decided batch, its counts, its ledger row and its checkpoint. Call inside its transaction. */
async function writeDecided(trx: Knex.Transaction, d: Decided, batch: InputBatch, batchNo: number, opts: IngestOptions): Promise<RunCounts> {
  await writeOutcome(trx, d.out, opts.runId, opts.source);
  const gained = [...d.out.sources.values()].flatMap((w) => (w.before?.memberId !== w.sr.memberId ? [w.sr.memberId] : []));
  await applyBatchLifecycle(trx, {
    source: opts.source,
    runId: opts.runId,
    listedIds: d.listed,
    writtenKeys: [...d.out.sources.values()].map((w) => w.sr.key),
    gained,
    removedKeys: d.removedKeys,
    removeWhen: opts.config.lifecycle.removeWhen,
  });
  const counts: RunCounts = { rows: d.rows, ...d.out.counts };
  await trx.raw(`insert into ingest_batches (run_id, batch_no, counts) values (?, ?, ?::jsonb)`, [opts.runId, batchNo, JSON.stringify(counts)]);
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

/** The counts of a batch the ledger says committed (its COMMIT's answer may have been lost). */
async function committedBefore(db: Knex, runId: number, batchNo: number): Promise<RunCounts | undefined> {
  const row = await db('ingest_batches').where({ run_id: runId, batch_no: batchNo }).first('counts');
  return row ? (row.counts as RunCounts) : undefined;
}

/** What a dry run has decided so far, as a working set later batches are decided over. */
function fold(acc: WorkingSet, d: Decided): void {
  const touched = new Set<string>([...d.out.created.keys(), ...d.out.updated.keys()]);
  for (const w of d.out.sources.values()) touched.add(w.sr.memberId);
  for (const id of touched) {
    const m = d.set.members.get(id);
    if (!m) continue;
    if (acc.members.has(id)) acc.replace(m);
    else acc.add(m);
    for (const sr of d.set.sourceRecordsOf(id)) acc.putSource(sr);
  }
  for (const l of d.out.links) acc.addLink(l.connection, l.externalId, l.memberId);
}

function add(total: RunCounts, c: RunCounts): void {
  for (const k of Object.keys(total) as (keyof RunCounts)[]) total[k] += c[k];
}

/** Ingest every batch; returns the run's counts. rows = created+updated+unchanged+conflicts+rejected. */
/**
 * Records whose keys (its source key, cons_id, member_id or e-mail) match an erased
 * person's tombstone are rejected `erased`, keeping nothing of the record: not its values,
 * not its remote id (a suppression list). One query per batch.
 */
async function refuseErased(db: Knex | Knex.Transaction, prepared: Prepared[], opts: IngestOptions, key: Buffer): Promise<Prepared[]> {
  const ids = prepared.map((p) => {
    if (p.ok !== 'lazy') return [];
    const v = p.input.values;
    const email = v.email?.trim() ? normalizeEmail(v.email) : undefined;
    return recordIdentities(opts.source, p.key, { cons_id: v.cons_id?.trim(), member_id: v.member_id?.trim(), email }).map((i) => keyedHash(key, i));
  });
  const hit = await erasedHashes(db, [...new Set(ids.flat())]);
  if (hit.size === 0) return prepared;
  return prepared.map((p, i): Prepared => {
    if (p.ok !== 'lazy' || !ids[i].some((h) => hit.has(h))) return p;
    const ref = { ...(p.input.ref.line !== undefined ? { line: p.input.ref.line } : {}), ...(p.input.ref.index !== undefined ? { index: p.input.ref.index } : {}) };
    return { ok: false, ref, reason: 'erased', raw: {} };
  });
}

export async function ingest(batches: AsyncIterable<InputBatch>, opts: IngestOptions): Promise<RunCounts> {
  if (!opts.allowErased) {
    const erasedKey = await erasureKeyIfAny(opts.db);
    if (erasedKey) opts = { ...opts, erasedKey };
  }
  const total = emptyCounts();
  const salt = fingerprintSalt(opts.config);
  // One batch ahead: the next batch is read and prepared while this one is decided and
  // written. At most one waits, so memory stays bounded.
  const it = batches[Symbol.asyncIterator]();
  const read = async (): Promise<[InputBatch, Prepared[]] | undefined> => {
    const r = await it.next();
    return r.done ? undefined : [r.value, prepareItems(r.value.items, opts, salt)];
  };
  if (opts.dryRun) {
    // A dry run writes nothing and holds no lock: each batch is decided over the store as
    // it is plus what the batches before would have done (held in memory: the members the
    // dry run would create or change).
    const acc = new WorkingSet();
    try {
      for (let next = read(); ; ) {
        const cur = await next;
        if (!cur) break;
        next = read();
        // a failure of the read-ahead surfaces when it is awaited, not as an unhandled rejection
        next.catch(() => undefined);
        const [batch, items] = cur;
        if (batch.items.length === 0) continue;
        const d = await decideIn(opts.db, items, opts, acc);
        fold(acc, d);
        add(total, { rows: d.rows, ...d.out.counts });
        opts.onBatch?.(total, batch);
      }
    } finally {
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
  let batchNo = 0;
  let filter: Filter | undefined;
  let filterTried = false;
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
      batchNo++;
      let counts: RunCounts | undefined;
      for (let attempt = 1; !counts; attempt++) {
        let trx: Knex.Transaction | undefined;
        let writing: Promise<RunCounts> | undefined;
        try {
          // a batch whose COMMIT's answer was lost may have committed: the ledger says
          if (attempt > 1 && (counts = await committedBefore(opts.db, opts.runId, batchNo))) break;
          trx = await opts.db.transaction();
          const tx = trx;
          const epoch = await takeIngestLock(trx);
          const useAhead = ahead !== undefined && ahead.epoch === epoch - 1;
          if (ahead) decidedAhead[useAhead ? 'used' : 'redone']++;
          // the filter holds every key only if no one else held the lock since it was last in step
          if (filter && filter.epoch !== epoch - 1) filter = undefined;
          const decided = useAhead ? ahead!.decided : await decideIn(trx, prepared, opts, undefined, filter?.f);
          ahead = undefined;
          // a run of mostly new people: the store's keys into a filter, once
          // (a small store is read in no time; a large one only for a batch that is worth it)
          if (!filter && !filterTried && batchNo === 1 && decided.found * 2 <= decided.probed) {
            filterTried = true;
            const size = await storeSize(tx);
            if (decided.probed >= 100 || size < 50_000) filter = await buildFilter(tx, opts, decided, epoch, size);
          }
          if (filter) filter.epoch = epoch;
          writing = writeDecided(tx, decided, batch, batchNo, opts).then(async (c) => {
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
            ahead = await decideIn(opts.db, nx[1], opts, decided.set, filter?.f)
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
