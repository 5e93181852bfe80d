/**
 * One worker process: the queue, the job schedulers in line with the job files, the
 * BullMQ worker running the processor, and the drop-folder watcher. Any number of these
 * share one queue backend and one database; every guarantee (a file imported once, a
 * schedule firing once, one job per connection at a time) holds across all of them.
 */
import { scheduleRetention } from '../pipeline/purge.js';
import os from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import type { Config } from '../config/schema.js';
import { describeError } from '../errors.js';
import { redact, type Logger } from '../log.js';
import type { Database } from '../store/db.js';
import { connectionLocks } from './connection-lock.js';
import { FAILED, moveInto, writeErrorNote } from './drop-files.js';
import { startDropWatcher, type DropWatcher } from './drop-watcher.js';
import { enqueueSteps, queueDroppedFile } from './enqueue.js';
import { type JobDefinitions, requireJob } from './load-jobs.js';
import { logConnectionChecks } from './check-needs.js';
import { createMetrics, type WorkerMetrics } from './metrics.js';
import { createProcessor } from './processor.js';
import { jobOptions, retryDelay, type JobQueue, type JobWorker, type QueueBackend } from './queue-backend.js';
import { syncSchedulers } from './schedulers.js';

export interface WorkerServiceOptions {
  config: Readonly<Config>;
  log: Logger;
  db: Database;
  backend: QueueBackend;
  defs: JobDefinitions;
}

export interface WorkerService {
  queue: JobQueue;
  metrics: WorkerMetrics;
  /** queues a one-off run of a job definition */
  enqueue(name: string, source: 'enqueue' | 'admin'): Promise<Job>;
  /** each dependency: 'ok' or what is wrong */
  health(): Promise<Record<string, string>>;
  /**
   * Stops taking jobs; jobs in hand stop after their batch and go back to the queue.
   * Resolves true when that took less than graceMs. The backend and database stay open:
   * their owner closes them.
   */
  stop(graceMs: number): Promise<boolean>;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A dropped file whose job failed because its workers kept dying under it (stalled more
 * than maxStalledCount times: killed, out of memory) never reached the processor's own
 * failure path: file it in failed/ with the reason, as any file that cannot be imported,
 * rather than leave it in the folder, unseen by this worker and taken again by the next
 * one to start.
 */
async function fileStalledDrop(job: Job, err: Error, maxStalledCount: number, log: Logger): Promise<void> {
  const file = (job.data as { path?: unknown } | undefined)?.path;
  if (job.name !== 'drop' || typeof file !== 'string' || !/stalled more than allowable limit/.test(err.message)) return;
  const moved = await moveInto(file, FAILED);
  if (!moved) return;
  await writeErrorNote(
    moved,
    `the import was interrupted ${maxStalledCount + 1} time${maxStalledCount === 0 ? '' : 's'}: its worker stopped without finishing it (killed, out of memory?). Rows already imported are in; drop the file again to import the rest.`,
  );
  log.error({ file: moved, jobId: job.id }, 'dropped file moved to failed/: its import kept stopping with its worker');
}

function watchWorker(worker: JobWorker, log: Logger, maxStalledCount: number): void {
  worker.on('error', (err) => log.error({ err: redact(describeError(err)) }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1) || /stalled more than allowable limit/.test(err.message);
    log[final ? 'error' : 'warn']({ jobId: job.id, job: job.name, attempt: job.attemptsMade, err: redact(err.message) }, final ? 'job failed' : 'job attempt failed; it will be retried');
    fileStalledDrop(job, err, maxStalledCount, log).catch((e: unknown) => log.error({ err: redact(describeError(e)), jobId: job.id }, 'could not move a failed dropped file'));
  });
  worker.on('stalled', (jobId) => log.warn({ jobId }, 'job stalled (its worker stopped without finishing it); it is taken again'));
  // a lost lock means another worker may take the job: stop ours after the batch in hand
  worker.on('lockRenewalFailed', (ids) => ids.forEach((id) => worker.cancelJob(id, 'lock lost')));
}

export async function startWorkerService(opts: WorkerServiceOptions): Promise<WorkerService> {
  const { config, log, db, backend, defs } = opts;
  const w = config.worker;
  const jobOpts = jobOptions(config);
  const queue = backend.createQueue(jobOpts);
  queue.on('error', (err) => log.error({ err: redact(describeError(err)) }, 'queue error'));
  await queue.waitUntilReady();
  await syncSchedulers(queue, defs, jobOpts, log);
  // a Redis back from a restart may have lost them: upserting is idempotent
  backend.onReconnect(() => {
    syncSchedulers(queue, defs, jobOpts, log).catch((err: unknown) => log.error({ err: redact(describeError(err)) }, 'could not restore the job schedulers after Redis came back'));
  });
  const metrics = createMetrics(() => queue.getJobCounts(...QUEUE_STATES));
  const stopping = new AbortController();
  const processor = createProcessor({ db: db.knex, config, log, locks: connectionLocks(db.url, log), metrics, stopping: stopping.signal });
  const worker = backend.createWorker(processor, {
    name: `${os.hostname()}:${process.pid}`,
    concurrency: w.concurrency,
    lockDuration: w.lockMs,
    stalledInterval: w.stalledIntervalMs,
    maxStalledCount: w.maxStalledCount,
    removeOnComplete: { count: w.keepCompleted },
    removeOnFail: { count: w.keepFailed },
    settings: { backoffStrategy: (attemptsMade, _type, err) => retryDelay(attemptsMade, w.backoffMs, err) },
  });
  watchWorker(worker, log, w.maxStalledCount);
  await worker.waitUntilReady();

  let watcher: DropWatcher | undefined;
  if (config.dropFolder.watch) {
    watcher = await startDropWatcher({
      dir: path.resolve(config.dropFolder.path),
      stableMs: config.dropFolder.stableMs,
      log,
      onStable: (file, size) => queueDroppedFile(queue, file, size, jobOpts, log),
      // a job lost with the queue's data (Redis restarted empty) is queued again
      recheckMs: Math.max(10 * config.dropFolder.stableMs, 5000),
    });
  }
  log.info({ backend: backend.where, concurrency: w.concurrency, jobs: [...defs.keys()] }, 'worker started');
  // retention.*: applied at start, then daily
  const stopRetention = scheduleRetention({ db: db.knex, config, log });
  logConnectionChecks(defs, config, log, stopping.signal).catch((err: unknown) => log.warn({ err: redact(describeError(err)) }, 'connection checks did not run'));

  return {
    queue,
    metrics,
    enqueue: (name, source) => enqueueSteps(queue, requireJob(defs, name, config, w.jobsDir), source, jobOpts),
    health: async () => ({
      postgres: await withTimeout(db.knex.raw('select 1'), 3000, 'PostgreSQL').then(
        () => 'ok',
        (err) => redact(describeError(err)),
      ),
      queue: await withTimeout(queue.getJobCounts('waiting'), 3000, backend.kind).then(
        () => 'ok',
        (err) => redact(describeError(err)),
      ),
    }),
    stop: async (graceMs) => {
      stopRetention();
      await watcher?.stop();
      const closing = worker.close();
      stopping.abort();
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([closing.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
      clearTimeout(timer);
      if (!drained) log.error({ graceMs }, 'jobs still running after the grace time; leaving them to be taken again once their lock expires');
      await queue.close().catch(() => undefined);
      return drained;
    },
  };
}
