/**
 * One worker process: the queue, the job schedulers in line with the job files, the
 * BullMQ worker running the processor, and the drop-folder watcher. Any number of these
 * share one queue backend and one database; every guarantee (a file imported once, a
 * schedule firing once, one job per connection at a time) holds across all of them.
 */
import os from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import type { Config } from '../config/schema.js';
import { describeError } from '../errors.js';
import { redact, type Logger } from '../log.js';
import type { Database } from '../store/db.js';
import { connectionLocks } from './connection-lock.js';
import { startDropWatcher, type DropWatcher } from './drop-watcher.js';
import { enqueueSteps, queueDroppedFile } from './enqueue.js';
import { type JobDefinitions, requireJob } from './load-jobs.js';
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

function watchWorker(worker: JobWorker, log: Logger): void {
  worker.on('error', (err) => log.error({ err: redact(describeError(err)) }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    log[final ? 'error' : 'warn']({ jobId: job.id, job: job.name, attempt: job.attemptsMade, err: redact(err.message) }, final ? 'job failed' : 'job attempt failed; it will be retried');
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
  watchWorker(worker, log);
  await worker.waitUntilReady();

  let watcher: DropWatcher | undefined;
  if (config.dropFolder.watch) {
    watcher = await startDropWatcher({
      dir: path.resolve(config.dropFolder.path),
      stableMs: config.dropFolder.stableMs,
      log,
      onStable: (file, size) => queueDroppedFile(queue, file, size, jobOpts, log),
    });
  }
  log.info({ backend: backend.where, concurrency: w.concurrency, jobs: [...defs.keys()] }, 'worker started');

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
