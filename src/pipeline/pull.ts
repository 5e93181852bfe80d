/**
 * Pull one connection: its pages -> ingest, committing the cursor with each batch of
 * pages, so an interrupted pull resumes after the last committed page.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { connectorFor } from '../connectors/registry.js';
import type { ConnectorContext } from '../connectors/types.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { markGoneAtSource } from '../store/lifecycle-repo.js';
import { takeIngestLock } from '../store/members-repo.js';
import { createRun, finishRun } from '../store/runs-repo.js';
import type { RunCounts } from '../types.js';
import { ingest, type InputBatch } from './ingest.js';
import { pulledStateRecorder } from './pulled-state.js';

export interface PullOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  /** ignore the checkpoint and read everything */
  full?: boolean;
  dryRun?: boolean;
  parentRunId?: number;
  signal?: AbortSignal;
  /** after each committed batch of pages */
  onPage?(counts: RunCounts): void;
}

/** How long a batch waits for more pages before it is written. */
const BATCH_WAIT_MS = 500;

/**
 * Pages joined into batches of at least `max` records, or fewer once the batch's first
 * page has waited `waitMs`: a fast source is written in few transactions, a slow one
 * still commits its progress often. A batch's checkpoint is its last page's.
 */
export async function* joinPages(pages: AsyncIterable<InputBatch>, max: number, waitMs = BATCH_WAIT_MS): AsyncGenerator<InputBatch> {
  const it = pages[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<InputBatch>> | undefined;
  let batch: InputBatch | undefined;
  let since = 0;
  try {
    for (;;) {
      pending ??= it.next();
      let r: IteratorResult<InputBatch> | 'late';
      if (batch) {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((res) => (timer = setTimeout(() => res('late'), Math.max(0, waitMs - (Date.now() - since)))));
        r = await Promise.race([pending, late]).finally(() => clearTimeout(timer));
      } else {
        r = await pending;
      }
      if (r === 'late') {
        yield batch!;
        batch = undefined;
        continue;
      }
      pending = undefined;
      if (r.done) break;
      if (batch) {
        batch.items.push(...r.value.items);
        batch.checkpoint = r.value.checkpoint;
      } else {
        batch = { items: [...r.value.items], checkpoint: r.value.checkpoint };
        since = Date.now();
      }
      if (batch.items.length >= max) {
        yield batch;
        batch = undefined;
      }
    }
    if (batch) yield batch;
  } finally {
    await it.return?.();
  }
}

export interface PullSummary extends RunCounts {
  run_id: number | null;
  connection: string;
  dry_run: boolean;
  pages: number;
  /** whether this pull read the connection's whole list (so it could tell who left) */
  complete_list: boolean;
  /** source records this pull no longer saw, now removed at the connection */
  removed_at_source: number;
  /** members that left removed (lifecycle.removeWhen) */
  members_removed: number;
}

interface Checkpoint {
  cursor: unknown;
  complete: boolean;
}

export function connectionContext(name: string, config: Readonly<Config>, log: Logger, signal?: AbortSignal): ConnectorContext {
  const conn = config.connections[name];
  if (!conn) {
    const known = Object.keys(config.connections);
    throw new InputError(`unknown connection '${name}'${known.length ? `; configured: ${known.join(', ')}` : '; none is configured (see config/default.yaml)'}`);
  }
  return { name, config: conn, log: log.child({ connection: name }), signal };
}

export async function pullConnection(name: string, opts: PullOptions): Promise<PullSummary> {
  const ctx = connectionContext(name, opts.config, opts.log, opts.signal);
  const connector = connectorFor(ctx.config.kind);
  if (!connector.pull) throw new InputError(`connection '${name}' is a ${ctx.config.kind} connection, which has no list API to pull from`);
  const key = `pull:${name}`;
  const saved = opts.full ? undefined : ((await opts.db('checkpoints').where({ key }).first())?.cursor as Checkpoint | undefined);
  // A finished pull starts over, unless the cursor is a "modified since" mark.
  const start = saved && (!saved.complete || connector.incremental) ? saved.cursor : undefined;
  const runId = opts.dryRun ? 0 : await createRun(opts.db, { kind: 'pull', source: name, parentRunId: opts.parentRunId, details: { resumed_from: start ?? null } });
  const log = ctx.log.child({ run: runId || undefined });
  log.info({ resume: start !== undefined }, 'pull started');
  let pages = 0;
  let read = 0;
  // a connector that knows its listing left people out (Convio's group cap) says so: no removals then
  let partial = false;
  let last: unknown = start;
  let index = 0;
  const pull = connector.pull.bind(connector);
  async function* batches(): AsyncGenerator<InputBatch> {
    for await (const page of pull({ ...ctx, log }, { cursor: start })) {
      pages++;
      read += page.records.length;
      if (page.partial) partial = true;
      last = page.cursor;
      for (const r of page.records) r.ref.index ??= ++index;
      yield { items: page.records, checkpoint: { key, cursor: { cursor: page.cursor, complete: false } satisfies Checkpoint } };
    }
  }
  // what was read is what the remote holds: the next push to it sends only what differs
  const pulled = opts.dryRun ? undefined : pulledStateRecorder(opts.db, name, opts.config, log, runId);
  try {
    const counts = await ingest(joinPages(batches(), opts.config.import.batchSize), {
      db: opts.db,
      config: opts.config,
      log,
      runId,
      source: name,
      connection: name,
      dryRun: opts.dryRun,
      onBatch: (c, batch) => {
        pulled?.add(batch);
        opts.onPage?.(c);
      },
    });
    await pulled?.done();
    if (!opts.dryRun) {
      await opts.db('checkpoints')
        .insert({ key, cursor: JSON.stringify({ cursor: last ?? null, complete: true }), run_id: runId })
        .onConflict('key')
        .merge();
    }
    // Lifecycle: a pull that read the whole list this run (from its start, to its end)
    // knows who is no longer there. A resumed pull, a listing the connector says is partial,
    // or an empty one (more likely a wrong option than everyone gone) removes nothing.
    const whole = start === undefined && !partial && read > 0 && !opts.dryRun;
    const gone = whole ? await opts.db.transaction(async (trx) => {
      await takeIngestLock(trx);
      return markGoneAtSource(trx, name, runId, opts.config.lifecycle.removeWhen);
    }) : { sourceRecords: 0, members: 0 };
    if (!whole && start === undefined && !opts.dryRun && (partial || read === 0)) log.warn({ partial, read }, 'the listing was not complete: nobody is marked removed at this source');
    if (!opts.dryRun) await finishRun(opts.db, runId, 'succeeded', { details: { pages, complete_list: whole, removed_at_source: gone.sourceRecords, members_removed: gone.members } });
    log.info({ ...counts, pages, removedAtSource: gone.sourceRecords, membersRemoved: gone.members }, 'pull finished');
    return { run_id: opts.dryRun ? null : runId, connection: name, ...counts, dry_run: Boolean(opts.dryRun), pages, complete_list: whole, removed_at_source: gone.sourceRecords, members_removed: gone.members };
  } catch (err) {
    if (!opts.dryRun) await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}
