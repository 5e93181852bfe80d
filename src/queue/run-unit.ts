/**
 * Runs one unit with the pipeline functions the CLI uses (pullConnection, pushConnection,
 * importFile, migrate): the worker adds no logic of its own to a sync. A unit either
 * completes, throws, or — when `signal` aborts — stops after the batch in hand and throws
 * an InterruptedError, to be run again later (every unit is safe to run again).
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { InputError, UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import { migrate } from '../pipeline/migrate.js';
import { pullConnection, type PullSummary } from '../pipeline/pull.js';
import { pushConnection, type PushSummary } from '../pipeline/push.js';
import { importPath, toImportResult } from './import-unit.js';
import { InterruptedError } from './queue-errors.js';
import type { PullResult, PushResult, StepResult } from './step-results.js';
import { resolvePath, type Unit } from './units.js';

export interface UnitContext {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  signal?: AbortSignal;
  /** whether a failure is the last try (a failed drop file then goes to failed/) */
  isFinal?(err: unknown): boolean;
}

function pullResult(s: PullSummary): PullResult {
  const { run_id, connection, rows, created, updated, unchanged, conflicts, rejected, pages } = s;
  return { step: 'pull', connection, run_id, rows, created, updated, unchanged, conflicts, rejected, pages };
}

function pushResult(s: PushSummary): PushResult {
  const { run_id, connection, selected, created, updated, unchanged, failed, skipped, requests, stopped } = s;
  return { step: 'push', connection, run_id, selected, created, updated, unchanged, failed, skipped, requests, ...(stopped ? { stopped } : {}) };
}

/**
 * A push that stopped early: interrupted by us, asked by the remote to come back later
 * (the job retries after that Retry-After), or stopped by failure after failure with the
 * destination down (the job retries with backoff).
 */
function checkStopped(p: PushSummary, signal?: AbortSignal): void {
  if (!p.stopped) return;
  if (signal?.aborted) throw new InterruptedError();
  const limited = p.retry_after_ms !== undefined;
  throw new UpstreamError({ connection: p.connection, kind: limited ? 'rate_limited' : 'network', message: p.error ?? p.stopped, retryAfterMs: p.retry_after_ms });
}

/**
 * A push that left members undelivered for a transient reason (the destination down,
 * 5xx, timeouts past the HTTP retries) has not done its work: the job fails with the
 * reason and is retried with backoff, and the retry sends just those members. Members
 * refused for good (4xx, remote validation) are recorded and do not fail the job: trying
 * again would not help.
 */
async function checkDelivered(db: Knex, p: PushSummary): Promise<void> {
  if (p.pending === 0 || p.run_id === null) return;
  const rows: { message: string }[] = await db('push_errors').where({ run_id: p.run_id, status: 'pending' }).orderBy('id').select('message');
  if (rows.length === 0) return;
  const message = rows[rows.length - 1].message;
  const last = message.startsWith(`${p.connection}: `) ? message.slice(p.connection.length + 2) : message;
  throw new UpstreamError({
    connection: p.connection,
    kind: 'network',
    message: `${rows.length} of ${p.selected} member(s) not delivered (push run ${p.run_id}); last error: ${last}`,
  });
}

async function execute(u: Unit, ctx: UnitContext): Promise<StepResult[]> {
  const common = { db: ctx.db, config: ctx.config, log: ctx.log, signal: ctx.signal };
  switch (u.kind) {
    case 'pull':
      return [pullResult(await pullConnection(u.connection, { ...common, full: u.full }))];
    case 'push': {
      const s = await pushConnection(u.connection, { ...common, retryFailed: u.retryFailed, limit: u.limit });
      // too many deletes wants a person's look (push --allow-mass-delete), not a retry
      if (s.deletes_blocked) throw new InputError(s.deletes_blocked);
      checkStopped(s, ctx.signal);
      await checkDelivered(ctx.db, s);
      return [pushResult(s)];
    }
    case 'import':
      return importPath(u.path, { ...common, mapping: u.mapping, connection: u.connection, encoding: u.encoding, isFinal: ctx.isFinal });
    case 'migrate': {
      const from = ctx.config.connections[u.from] ? u.from : resolvePath(u.from);
      const s = await migrate({ ...common, from, to: u.to, mapping: u.mapping });
      for (const p of s.pushes) if (p.deletes_blocked) throw new InputError(p.deletes_blocked);
      for (const p of s.pushes) checkStopped(p, ctx.signal);
      if (s.pushes.length < u.to.length) throw new InterruptedError();
      for (const p of s.pushes) await checkDelivered(ctx.db, p);
      const source = s.source.kind === 'pull' ? pullResult(s.source) : toImportResult(s.source);
      const { run_id, rows, created, updated, unchanged, conflicts, rejected } = source;
      return [{ step: 'migrate', run_id: s.run_id, from: u.from, to: u.to, source: { run_id, rows, created, updated, unchanged, conflicts, rejected }, pushes: s.pushes.map(pushResult) }];
    }
  }
}

export async function runUnit(u: Unit, ctx: UnitContext): Promise<StepResult[]> {
  try {
    return await execute(u, ctx);
  } catch (err) {
    // whatever a step throws while we are stopping (an aborted request, say) means "stopped"
    if (ctx.signal?.aborted && !(err instanceof InterruptedError)) throw new InterruptedError();
    throw err;
  }
}
