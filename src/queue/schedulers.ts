/**
 * Each job definition with a schedule (or `every`) is a BullMQ job scheduler whose id is
 * the job name; at start the schedulers are brought in line with the files: upserted
 * (a changed schedule or step list takes effect) and removed when their file is gone or
 * has no schedule any more. Upserting is idempotent, so every replica may do it.
 */
import type { JobsOptions } from 'bullmq';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { JobDefinition } from './job-definition.js';
import type { StepsPayload } from './job-payload.js';
import type { JobDefinitions } from './load-jobs.js';
import type { JobQueue } from './queue-backend.js';

export function stepsPayload(def: Pick<JobDefinition, 'name' | 'steps'>, source: StepsPayload['source']): StepsPayload {
  return { v: 1, kind: 'steps', job: def.name, steps: def.steps, source };
}

export async function syncSchedulers(queue: JobQueue, defs: JobDefinitions, opts: JobsOptions, log: Logger): Promise<{ upserted: string[]; removed: string[] }> {
  const scheduled = [...defs.values()].filter((d) => d.schedule || d.every);
  const upserted: string[] = [];
  for (const def of scheduled) {
    const repeat = def.every ? { every: def.every } : { pattern: def.schedule, ...(def.tz ? { tz: def.tz } : {}) };
    try {
      await queue.upsertJobScheduler(def.name, repeat, { name: def.name, data: stepsPayload(def, 'schedule'), opts });
    } catch (err) {
      const key = def.every ? 'every' : 'schedule';
      throw new ConfigError(`${def.file}: ${key}: not accepted by the scheduler: ${(err as Error).message}`, { cause: err });
    }
    upserted.push(def.name);
  }
  const removed: string[] = [];
  const keep = new Set(upserted);
  for (const s of await queue.getJobSchedulers(0, -1)) {
    const id = s.id ?? s.key;
    if (keep.has(id)) continue;
    await queue.removeJobScheduler(id);
    removed.push(id);
  }
  if (upserted.length || removed.length) log.info({ scheduled: upserted, removed }, 'job schedulers in line with the job files');
  return { upserted, removed };
}
