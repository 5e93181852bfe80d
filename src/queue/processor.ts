/**
 * The BullMQ processor: asserts the payload, runs the job's units (or imports a dropped
 * file), and tells the queue what to do next:
 *
 * - done: the unit results are the job's return value;
 * - a connection is busy (another job works on it): back to delayed for busyDelayMs,
 *   without using up an attempt;
 * - the worker is stopping: the batch in hand is committed, the job goes back to wait
 *   and resumes after its last finished unit (kept in the job data);
 * - an error `isRetryable` accepts (429, 5xx, network, database), or a lost database
 *   session: thrown, retried with backoff; any other (config, auth, bad input):
 *   UnrecoverableError, failed at once.
 */
import { stat } from 'node:fs/promises';
import { DelayedError, UnrecoverableError, WaitingError, type Job, type Processor } from 'bullmq';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { ConfigError, describeError, isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import { sha256File } from '../pipeline/import-file.js';
import type { ConnectionLocks } from './connection-lock.js';
import { droppedFileProblem } from './drop-path.js';
import { importOne } from './import-unit.js';
import { assertJobPayload, type DropPayload, type StepsPayload } from './job-payload.js';
import type { WorkerMetrics } from './metrics.js';
import { InterruptedError } from './queue-errors.js';
import { runUnits } from './run-units.js';
import type { ImportResult, StepResult } from './step-results.js';
import { expandSteps } from './units.js';

export interface ProcessorDeps {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  locks: ConnectionLocks;
  metrics?: WorkerMetrics;
  /** aborted when the worker is stopping: jobs stop after the batch in hand */
  stopping?: AbortSignal;
}

export interface JobOutcome {
  job: string;
  results: StepResult[];
}

class Busy extends Error {
  constructor(
    readonly connection: string,
    readonly label: string,
  ) {
    super(`connection '${connection}' is busy`);
  }
}

interface Run {
  job: Job;
  log: Logger;
  signal?: AbortSignal;
  isFinal(err: unknown): boolean;
}

const busy = async (connection: string, label: string): Promise<void> => {
  throw new Busy(connection, label);
};

async function runSteps(p: StepsPayload, run: Run, deps: ProcessorDeps): Promise<StepResult[]> {
  const units = expandSteps(p.steps, deps.config, `job ${p.job}`);
  const done = new Set(p.done ?? []);
  const results = [...(p.results ?? [])];
  if (done.size > 0) run.log.info({ done: [...done] }, 'resuming after the units already done');
  await runUnits(units, {
    db: deps.db,
    config: deps.config,
    log: run.log,
    signal: run.signal,
    isFinal: run.isFinal,
    locks: deps.locks,
    done,
    onBusy: busy,
    onUnitStart: (i, label) => run.job.updateProgress({ unit: i + 1, units: units.length, label }),
    onUnitDone: async (key, r) => {
      done.add(key);
      results.push(...r);
      deps.metrics?.recordResults(r);
      await run.job.updateData({ ...p, done: [...done], results });
    },
  });
  return results;
}

async function runDrop(p: DropPayload, run: Run, deps: ProcessorDeps): Promise<StepResult[]> {
  // the payload comes from the queue: it may name only a file in the drop folder
  const outside = droppedFileProblem(p.path, deps.config.dropFolder.path);
  if (outside) throw new ConfigError(`job ${run.job.id} payload: path: ${outside}`);
  const skip = (why: string): ImportResult[] => [{ step: 'import', file: p.path, run_id: null, rows: 0, created: 0, updated: 0, unchanged: 0, conflicts: 0, rejected: 0, skipped: why }];
  if (!(await stat(p.path).catch(() => undefined))) return skip('the file is no longer in the drop folder');
  if ((await sha256File(p.path)) !== p.sha256) return skip('the file changed after it was queued; it is taken again as new content');
  const drop = deps.config.dropFolder;
  const lock = await deps.locks.tryAcquire(drop.connection ? [drop.connection] : []);
  if (!lock.ok) throw new Busy(lock.busy, `import ${p.path}`);
  try {
    const signal = run.signal ? AbortSignal.any([run.signal, lock.held.lost]) : lock.held.lost;
    const r = [await importOne(p.path, { db: deps.db, config: deps.config, log: run.log, mapping: drop.mapping, connection: drop.connection, signal, file: true, isFinal: run.isFinal })];
    deps.metrics?.recordResults(r);
    return r;
  } finally {
    await lock.held.release();
  }
}

export function createProcessor(deps: ProcessorDeps): Processor {
  // three parameters: BullMQ then passes a signal, which the worker aborts when it loses the job's lock
  return async (job: Job, token?: string, lockLost?: AbortSignal): Promise<JobOutcome> => {
    const started = Date.now();
    const signal = AbortSignal.any([lockLost, deps.stopping].filter((s): s is AbortSignal => s !== undefined));
    let payload;
    try {
      payload = assertJobPayload(job.data, job.id);
    } catch (err) {
      throw new UnrecoverableError(describeError(err));
    }
    const name = payload.kind === 'steps' ? payload.job : 'drop';
    const log = deps.log.child({ jobId: job.id, job: name, attempt: job.attemptsMade + 1 });
    const isFinal = (err: unknown) => !isRetryable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const run: Run = { job, log, signal, isFinal };
    let status: 'completed' | 'failed' | 'interrupted' | 'delayed' = 'failed';
    try {
      if (deps.stopping?.aborted) throw new InterruptedError();
      log.info({ source: payload.kind === 'steps' ? payload.source : 'drop' }, 'job started');
      const results = payload.kind === 'drop' ? await runDrop(payload, run, deps) : await runSteps(payload, run, deps);
      status = 'completed';
      log.info({ units: results.length }, 'job completed');
      return { job: name, results };
    } catch (err) {
      if (err instanceof Busy) {
        status = 'delayed';
        log.info({ connection: err.connection, step: err.label, retryInMs: deps.config.worker.busyDelayMs }, 'connection busy with another job; trying again later');
        await job.moveToDelayed(Date.now() + deps.config.worker.busyDelayMs, token);
        throw new DelayedError();
      }
      if (err instanceof InterruptedError || signal.aborted) {
        if (deps.stopping?.aborted) {
          status = 'interrupted';
          log.info('worker stopping: batch in hand committed, job handed back to the queue');
          await job.moveToWait(token);
          throw new WaitingError();
        }
        // our lock on the job or a connection was lost: someone else may be running it
        throw err;
      }
      if (!isRetryable(err)) throw new UnrecoverableError(describeError(err));
      throw err;
    } finally {
      deps.metrics?.observeJob(name, status, (Date.now() - started) / 1000);
    }
  };
}
