/**
 * Opens the queue backend and, when needed, member-sync's database, in the order that
 * fails fastest: with REDIS_URL, Redis is probed before any database is opened (or an
 * embedded one started), so an unreachable Redis is reported at once.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { openDatabase, type Database } from '../store/db.js';
import { openQueueBackend, type QueueBackend } from './queue-backend.js';

export interface Stack {
  backend: QueueBackend;
  /** opened when asked for, and always for the PostgreSQL backend */
  db?: Database;
  close(): Promise<void>;
}

export async function openStack(opts: { config: Readonly<Config>; log: Logger; needDatabase: boolean; poolMax?: number; env?: NodeJS.ProcessEnv }): Promise<Stack> {
  const redisUrl = (opts.env ?? process.env).REDIS_URL || undefined;
  const queuePool = opts.config.worker.concurrency + 2;
  const redisBackend = redisUrl ? await openQueueBackend({ config: opts.config, log: opts.log, redisUrl }) : undefined;
  let db: Database | undefined;
  try {
    if (opts.needDatabase || !redisBackend) {
      db = await openDatabase({ log: opts.log, allowDuplicateEmails: opts.config.matching.allowDuplicateEmails, poolMax: opts.poolMax });
    }
    const backend = redisBackend ?? (await openQueueBackend({ config: opts.config, log: opts.log, databaseUrl: db!.url, poolMax: queuePool }));
    return {
      backend,
      db,
      close: async () => {
        await backend.close();
        await db?.close();
      },
    };
  } catch (err) {
    await redisBackend?.close();
    await db?.close();
    throw err;
  }
}
