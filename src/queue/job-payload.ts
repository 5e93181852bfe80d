/**
 * What a queued job carries. Payloads are `unknown` until asserted here: a job queued by
 * an older version keeps its old shape, so fields added later are optional.
 */
import { ConfigError } from '../errors.js';
import { parseStep, type Step } from './job-definition.js';
import type { StepResult } from './step-results.js';

export type JobSource = 'schedule' | 'enqueue' | 'admin';

/** Run a job's steps (a definition, or ad-hoc steps). */
export interface StepsPayload {
  v: 1;
  kind: 'steps';
  /** job name, for logs and metrics */
  job: string;
  steps: Step[];
  source?: JobSource;
  /** `<index>:<label>` of the units already done (a retried or resumed job skips them) */
  done?: string[];
  /** results of the units already done */
  results?: StepResult[];
}

/** Import one file from the drop folder; the job id is its sha256. */
export interface DropPayload {
  v: 1;
  kind: 'drop';
  /** absolute path when it was found */
  path: string;
  sha256: string;
  size?: number;
}

export type JobPayload = StepsPayload | DropPayload;

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** Throws a ConfigError (never retried) naming the job and the key at fault. */
export function assertJobPayload(data: unknown, jobId = '?'): JobPayload {
  const where = `job ${jobId} payload`;
  const bad = (key: string, what: string): never => {
    throw new ConfigError(`${where}: ${key}: ${what}`);
  };
  if (!isPlain(data)) return bad('(top level)', 'an object');
  if (data.v !== 1) bad('v', `unsupported version ${JSON.stringify(data.v)}; this worker reads 1`);
  if (data.kind === 'steps') {
    if (!str(data.job)) bad('job', 'a job name');
    if (!Array.isArray(data.steps) || data.steps.length === 0) bad('steps', 'a list of steps');
    const steps = (data.steps as unknown[]).map((s, i) => parseStep(s, where, `steps.${i}`));
    if (data.done !== undefined && !(Array.isArray(data.done) && data.done.every(str))) bad('done', 'a list of step labels');
    if (data.results !== undefined && !Array.isArray(data.results)) bad('results', 'a list');
    if (data.source !== undefined && !['schedule', 'enqueue', 'admin'].includes(data.source as string)) bad('source', 'schedule, enqueue or admin');
    return {
      v: 1,
      kind: 'steps',
      job: data.job as string,
      steps,
      source: data.source as JobSource | undefined,
      done: data.done as string[] | undefined,
      results: data.results as StepResult[] | undefined,
    };
  }
  if (data.kind === 'drop') {
    if (!str(data.path)) bad('path', 'the dropped file');
    if (!(typeof data.sha256 === 'string' && /^[0-9a-f]{64}$/.test(data.sha256))) bad('sha256', 'a sha256 in hex');
    if (data.size !== undefined && typeof data.size !== 'number') bad('size', 'a number');
    return { v: 1, kind: 'drop', path: data.path as string, sha256: data.sha256 as string, size: data.size as number | undefined };
  }
  return bad('kind', 'steps or drop');
}
