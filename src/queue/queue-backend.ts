/**
 * The queue backend, chosen once: Redis when REDIS_URL is set (production), otherwise
 * BullMQ's PostgreSQL backend in member-sync's own database, in a schema of its own
 * (`worker.prefix`), its migrations run at start. Everything above this file uses the
 * same Queue and Worker classes on either.
 */
import { Queue, Worker, createPostgresBackend, runMigrations, type IQueueBackend, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import pg from 'pg';
import type { Config } from '../config/schema.js';
import { DatabaseError, UpstreamError } from '../errors.js';
import { redact, type Logger } from '../log.js';
import { connectRedis, probeRedis } from './redis-probe.js';

export const QUEUE_NAME = 'jobs';

// The two backends give the classes different type parameters; above this file only
// their shared methods are used.
export type JobQueue = Queue<unknown, unknown, string, unknown, unknown, string, IQueueBackend, unknown>;
export type JobWorker = Worker<unknown, unknown, string, IQueueBackend>;
export type WorkerTuning = Omit<WorkerOptions, 'connection' | 'prefix'>;

export interface QueueBackend {
  kind: 'redis' | 'postgres';
  /** where the queue lives, secrets redacted */
  where: string;
  createQueue(defaultJobOptions?: JobsOptions): JobQueue;
  createWorker(processor: Processor, tuning: WorkerTuning): JobWorker;
  /**
   * Called each time the backend is back after losing its server (Redis): a Redis
   * restarted without persistence comes back empty, job schedulers included.
   */
  onReconnect(listener: () => void): void;
  /** closes what this backend opened (close queues and workers first) */
  close(): Promise<void>;
}

export interface BackendOptions {
  config: Readonly<Config>;
  log: Logger;
  redisUrl?: string;
  /** member-sync's database; needed for the PostgreSQL backend only */
  databaseUrl?: string;
  /** PostgreSQL pool size per queue or worker @defaultValue 4 */
  poolMax?: number;
}

async function migrateSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, application_name: 'member-sync-queue-migrate' });
  try {
    await client.connect();
    await runMigrations(client, schema);
  } catch (err) {
    throw new DatabaseError(`cannot prepare the queue schema '${schema}' in ${redact(url)}: ${redact((err as Error).message)}`, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function openQueueBackend(opts: BackendOptions): Promise<QueueBackend> {
  const prefix = opts.config.worker.prefix;
  if (opts.redisUrl) {
    await probeRedis(opts.redisUrl, opts.log);
    const redis: Redis = connectRedis(opts.redisUrl, opts.log);
    const base = { connection: redis, prefix };
    const listeners: (() => void)[] = [];
    let lost = false;
    redis.on('reconnecting', () => (lost = true));
    redis.on('ready', () => {
      if (!lost) return;
      lost = false;
      for (const l of listeners) l();
    });
    return {
      kind: 'redis',
      where: `Redis ${redact(opts.redisUrl)} (prefix ${prefix})`,
      createQueue: (defaultJobOptions) => new Queue(QUEUE_NAME, { ...base, defaultJobOptions }) as unknown as JobQueue,
      createWorker: (processor, tuning) => new Worker(QUEUE_NAME, processor, { ...tuning, ...base }) as unknown as JobWorker,
      onReconnect: (listener) => void listeners.push(listener),
      close: async () => {
        await redis.quit().catch(() => redis.disconnect());
      },
    };
  }
  if (!opts.databaseUrl) throw new DatabaseError('the PostgreSQL queue backend needs the database URL');
  await migrateSchema(opts.databaseUrl, prefix);
  const connection = { connectionString: opts.databaseUrl, schema: prefix, max: opts.poolMax ?? 4, application_name: 'member-sync-queue' };
  return {
    kind: 'postgres',
    where: `PostgreSQL ${redact(opts.databaseUrl)} (schema ${prefix})`,
    createQueue: (defaultJobOptions) => new Queue(QUEUE_NAME, { connection, defaultJobOptions }, createPostgresBackend) as unknown as JobQueue,
    createWorker: (processor, tuning) => new Worker(QUEUE_NAME, processor, { ...tuning, connection }, createPostgresBackend) as unknown as JobWorker,
    // PostgreSQL keeps the queue through a reconnection: nothing to restore
    onReconnect: () => undefined,
    close: async () => {},
  };
}

/** Backoff of our jobs: exponential from worker.backoffMs, unless the remote said when (Retry-After wins). */
export const BACKOFF_TYPE = 'member-sync';

export function retryDelay(attemptsMade: number, baseMs: number, err?: Error): number {
  if (err instanceof UpstreamError && err.retryAfterMs !== undefined) return err.retryAfterMs;
  return Math.round(2 ** Math.max(0, attemptsMade - 1) * baseMs);
}

/** Options of every job member-sync queues: retries with backoff and bounded history. */
export function jobOptions(config: Readonly<Config>): JobsOptions {
  const w = config.worker;
  return {
    attempts: w.attempts,
    backoff: { type: BACKOFF_TYPE, delay: w.backoffMs },
    removeOnComplete: { count: w.keepCompleted },
    removeOnFail: { count: w.keepFailed },
  };
}
