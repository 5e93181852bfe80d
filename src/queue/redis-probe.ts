/**
 * Redis for the queue (REDIS_URL): a clear error when it cannot be reached at start, and
 * a warning when it may evict keys (BullMQ needs maxmemory-policy noeviction).
 */
import { Redis } from 'ioredis';
import { redact, registerSecret, type Logger } from '../log.js';
import { QueueUnavailableError } from './queue-errors.js';

export function registerRedisSecret(url: string): void {
  try {
    const u = new URL(url);
    if (u.password) registerSecret(decodeURIComponent(u.password));
  } catch {
    // not a URL: ioredis reports it when connecting
  }
}

/** Connects once without retrying; throws a QueueUnavailableError naming the URL. */
export async function probeRedis(url: string, log: Logger, timeoutMs = 5000): Promise<void> {
  registerRedisSecret(url);
  let firstError: Error | undefined;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false });
  probe.on('error', (err: Error) => {
    firstError ??= err;
  });
  try {
    await probe.connect();
    const info = await probe.info('memory');
    const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    if (policy && policy !== 'noeviction') {
      log.warn({ policy }, `Redis maxmemory-policy is ${policy}: Redis may evict queue keys under memory pressure; set it to noeviction`);
    }
  } catch (err) {
    const why = (firstError ?? (err as Error)).message;
    throw new QueueUnavailableError(`cannot reach Redis at ${redact(url)} (REDIS_URL): ${redact(why)}`, { cause: err });
  } finally {
    probe.disconnect();
  }
}

/** The long-lived connection: retries forever, as BullMQ workers require. */
export function connectRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 500, 5000) });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) log.error({ err: redact(err.message) }, 'Redis connection error; reconnecting');
    down = true;
  });
  // a server that shuts down closes the connection without an error
  redis.on('reconnecting', () => {
    if (!down) log.warn('Redis connection lost; reconnecting');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('Redis connection restored');
    down = false;
  });
  return redis;
}
