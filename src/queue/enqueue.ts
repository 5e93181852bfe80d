/**
 * Putting work on the queue — a job definition or ad-hoc steps (`member-sync enqueue`,
 * `POST /jobs/<name>`), a dropped file (the watcher) — and following a job to its end.
 */
import { stat } from 'node:fs/promises';
import type { Job, JobsOptions } from 'bullmq';
import type { Logger } from '../log.js';
import { sha256File } from '../pipeline/import-file.js';
import type { JobDefinition } from './job-definition.js';
import type { DropPayload, StepsPayload } from './job-payload.js';
import type { JobOutcome } from './processor.js';
import type { JobQueue } from './queue-backend.js';
import { stepsPayload } from './schedulers.js';

export async function enqueueSteps(queue: JobQueue, def: Pick<JobDefinition, 'name' | 'steps'>, source: StepsPayload['source'], opts: JobsOptions): Promise<Job> {
  return queue.add(def.name, stepsPayload(def, source), opts);
}

/** sha256 of files offered again unchanged (the watcher rechecks files left in the folder) */
const digests = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

async function digestOf(file: string, size: number): Promise<string> {
  const mtimeMs = (await stat(file)).mtimeMs;
  const known = digests.get(file);
  if (known && known.size === size && known.mtimeMs === mtimeMs) return known.sha256;
  const sha256 = await sha256File(file);
  if (digests.size >= 1000) digests.delete(digests.keys().next().value!);
  digests.set(file, { size, mtimeMs, sha256 });
  return sha256;
}

/**
 * Queues a stable dropped file as job `<sha256>`: the same content queued twice is one
 * job. A finished job with that id means the content was seen before: it is replaced, and
 * the new job finds the content imported and files the copy. No job with that id (never
 * queued, or lost with the queue's data) queues it. Resolves false when a copy under
 * another name is still queued, to look at this one again later.
 */
export async function queueDroppedFile(queue: JobQueue, file: string, size: number, opts: JobsOptions, log: Logger): Promise<boolean> {
  const sha256 = await digestOf(file, size);
  const existing = await queue.getJob(sha256);
  if (existing) {
    const state = await existing.getState();
    if (state === 'completed' || state === 'failed') {
      await queue.remove(sha256);
    } else if ((existing.data as Partial<DropPayload>).path === file) {
      return true;
    } else {
      log.debug({ file, sha256, state }, 'the same content is queued under another name; looking again later');
      return false;
    }
  }
  const data: DropPayload = { v: 1, kind: 'drop', path: file, sha256, size };
  await queue.add('drop', data, { ...opts, jobId: sha256 });
  log.info({ file, sha256 }, 'dropped file queued');
  return true;
}

export interface Followed {
  state: 'completed' | 'failed';
  outcome?: JobOutcome;
  failedReason?: string;
}

export interface FollowOptions {
  pollMs?: number;
  onProgress?(progress: unknown): void;
  /** an attempt failed and the job will be tried again */
  onRetry?(reason: string, attempt: number): void;
  /** still waiting after 10 s: no worker may be running */
  onNobody?(): void;
  signal?: AbortSignal;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the job until it completes or fails for good (works alike on both backends). */
export async function followJob(queue: JobQueue, id: string, opts: FollowOptions = {}): Promise<Followed> {
  let progress = '';
  let attempts = 0;
  let warned = false;
  const since = Date.now();
  for (;;) {
    if (opts.signal?.aborted) throw new Error('stopped following the job; it stays queued');
    const job = await queue.getJob(id);
    if (!job) throw new Error(`job ${id} is no longer in the queue`);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') {
      // the job may have finished between reading it and reading its state: read it again
      const done = (await queue.getJob(id)) ?? job;
      return state === 'completed' ? { state, outcome: done.returnvalue as JobOutcome } : { state, failedReason: done.failedReason };
    }
    const p = JSON.stringify(job.progress ?? null);
    if (p !== progress && job.progress) opts.onProgress?.(job.progress);
    progress = p;
    if (job.attemptsMade > attempts) {
      attempts = job.attemptsMade;
      opts.onRetry?.(job.failedReason, attempts);
    }
    if (!warned && state === 'waiting' && Date.now() - since > 10_000) {
      warned = true;
      opts.onNobody?.();
    }
    await sleep(opts.pollMs ?? 250);
  }
}
