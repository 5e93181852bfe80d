/**
 * A one-off migration: pull everything from a connection (or import a file) into the
 * canonical list, then push to each target. Recorded as a parent run (kind 'migrate')
 * with the pull/import and each push as its child runs.
 *
 * Targets get a normal push: every member whose payload for them changed, which after a
 * first pull is everyone the canonical list holds (the list is the truth that syncs).
 *
 * A dry run reads the source for real but decides it inside one transaction that is
 * rolled back, and plans each push against what that transaction sees: the plan is what
 * the migration would send, and nothing is written or sent.
 */
import { existsSync } from 'node:fs';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { connectorFor } from '../connectors/registry.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { createRun, finishRun, addRunCounts } from '../store/runs-repo.js';
import { importFile, type ImportSummary } from './import-file.js';
import { pullConnection, type PullSummary } from './pull.js';
import { pushConnection, type PlanEntry, type PushSummary } from './push.js';

export interface MigrateOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  /** a connection name, or a CSV file */
  from: string;
  to: string[];
  dryRun?: boolean;
  /** CSV mapping when `from` is a file */
  mapping?: string;
  /** hard stop: cuts requests in flight */
  signal?: AbortSignal;
  /** graceful stop: the step in hand finishes its members in flight, no further step starts */
  stop?: AbortSignal;
  onPlan?(target: string, entry: PlanEntry): void;
}

export interface MigrateSummary {
  run_id: number | null;
  from: string;
  to: string[];
  source: (PullSummary & { kind: 'pull' }) | (ImportSummary & { kind: 'import' });
  pushes: PushSummary[];
  dry_run: boolean;
}

function checkTargets(opts: MigrateOptions): void {
  if (opts.to.length === 0) throw new InputError('--to: name at least one connection to push to');
  for (const name of opts.to) {
    const conn = opts.config.connections[name];
    if (!conn) throw new InputError(`--to: unknown connection '${name}'; configured: ${Object.keys(opts.config.connections).join(', ') || 'none'}`);
    if (!connectorFor(conn.kind).push) throw new InputError(`--to: '${name}' is a ${conn.kind} connection, which member-sync does not push to`);
  }
  if (!opts.config.connections[opts.from] && !existsSync(opts.from)) {
    throw new InputError(`--from: '${opts.from}' is neither a configured connection nor a file`);
  }
}

async function runSteps(db: Knex, opts: MigrateOptions, parentRunId: number | undefined, dryPush: boolean): Promise<Omit<MigrateSummary, 'run_id' | 'dry_run'>> {
  const common = { db, config: opts.config, log: opts.log, parentRunId };
  const source: MigrateSummary['source'] = opts.config.connections[opts.from]
    ? { kind: 'pull', ...(await pullConnection(opts.from, { ...common, full: true, signal: opts.signal })) }
    : { kind: 'import', ...(await importFile(opts.from, { ...common, mapping: opts.mapping })) };
  const pushes: PushSummary[] = [];
  for (const target of opts.to) {
    if (opts.signal?.aborted || opts.stop?.aborted) break;
    const onPlan = opts.onPlan && ((e: PlanEntry) => opts.onPlan?.(target, e));
    const s = await pushConnection(target, { ...common, dryRun: dryPush, signal: opts.signal, stop: opts.stop, onPlan });
    pushes.push(s);
    if (s.stopped) break;
  }
  return { from: opts.from, to: opts.to, source, pushes };
}

export async function migrate(opts: MigrateOptions): Promise<MigrateSummary> {
  checkTargets(opts);
  if (opts.dryRun) {
    const trx = await opts.db.transaction();
    try {
      const out = await runSteps(trx, opts, undefined, true);
      // run ids made inside the rolled-back transaction mean nothing outside it
      return { run_id: null, ...out, source: { ...out.source, run_id: null, dry_run: true }, dry_run: true };
    } finally {
      await trx.rollback().catch(() => undefined);
    }
  }
  const runId = await createRun(opts.db, { kind: 'migrate', source: opts.from, details: { to: opts.to } });
  const log = opts.log.child({ run: runId });
  log.info({ from: opts.from, to: opts.to }, 'migrate started');
  try {
    const out = await runSteps(opts.db, { ...opts, log }, runId, false);
    const { rows, created, updated, unchanged, conflicts, rejected } = out.source;
    await addRunCounts(opts.db, runId, { rows, created, updated, unchanged, conflicts, rejected });
    const failed = out.pushes.find((p) => p.error);
    const incomplete = failed ? `push to ${failed.connection} failed: ${failed.error}` : out.pushes.length < opts.to.length ? 'interrupted' : undefined;
    const details = { source_run_id: out.source.run_id, push_run_ids: out.pushes.map((p) => p.run_id), pushes: out.pushes };
    await finishRun(opts.db, runId, incomplete ? 'failed' : 'succeeded', { error: incomplete, details });
    log.info({ pushes: out.pushes.length }, 'migrate finished');
    return { run_id: runId, ...out, dry_run: false };
  } catch (err) {
    await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}
