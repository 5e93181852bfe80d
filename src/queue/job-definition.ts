/**
 * A job definition (`jobs/<name>.yaml`, the file name is the job name) and its steps,
 * checked key by key so that an error names the file, the key and what is allowed.
 *
 * ```yaml
 * schedule: "0 2 * * *"      # optional cron (5 fields, or 6 with seconds); tz optional
 * steps:
 *   - pull: convio-main       # a connection, a list of them, or "*" (every one that can)
 *   - import: ./inbox         # a folder (its waiting files) or a file; mapping, connection, encoding
 *   - push: [vocdoni-main]    # retryFailed, limit
 *   - migrate: convio-main    # from a connection or a file ...
 *     to: vocdoni-main        # ... to one or more connections
 * ```
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { INPUT_ENCODINGS, type InputEncoding } from '../csv/read-csv.js';
import { ConfigError } from '../errors.js';

export type Names = string | string[];

export interface PullStep {
  pull: Names;
  /** ignore the checkpoint and read everything */
  full?: boolean;
}
export interface PushStep {
  push: Names;
  retryFailed?: boolean;
  limit?: number;
}
export interface ImportStep {
  /** a folder (the files waiting in it) or one file */
  import: string;
  mapping?: string;
  connection?: string;
  /** of a file without a BOM (see `member-sync import --encoding`) */
  encoding?: InputEncoding;
}
export interface MigrateStep {
  /** a connection or a CSV file */
  migrate: string;
  to: Names;
  mapping?: string;
}
export type Step = PullStep | PushStep | ImportStep | MigrateStep;
export type StepKind = 'pull' | 'push' | 'import' | 'migrate';

export interface JobDefinition {
  name: string;
  /** where it was read from, for messages */
  file: string;
  description?: string;
  /** cron pattern */
  schedule?: string;
  tz?: string;
  /** milliseconds between runs (instead of schedule) */
  every?: number;
  steps: Step[];
}

export const JOB_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const STEP_KINDS: StepKind[] = ['pull', 'push', 'import', 'migrate'];

const names = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const STEP_SCHEMAS = {
  pull: z.object({ pull: names, full: z.boolean().optional() }).strict(),
  push: z.object({ push: names, retryFailed: z.boolean().optional(), limit: z.number().int().positive().optional() }).strict(),
  import: z
    .object({ import: z.string().min(1), mapping: z.string().min(1).optional(), connection: z.string().min(1).optional(), encoding: z.enum(INPUT_ENCODINGS).optional() })
    .strict(),
  migrate: z.object({ migrate: z.string().min(1), to: names, mapping: z.string().min(1).optional() }).strict(),
} as const;

const CRON_FIELD = /^[0-9A-Za-z*/,?#-]+$/;
const DURATION = /^(\d+)\s*(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

function fail(where: string, key: string, message: string): never {
  throw new ConfigError(`${where}: ${key}: ${message}`);
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function stepKind(step: Step): StepKind {
  return STEP_KINDS.find((k) => k in step)!;
}

/** The step's `names` as a list. */
export function nameList(v: Names): string[] {
  return Array.isArray(v) ? v : [v];
}

/** One step, checked; `key` is its path for messages (`steps.2`). */
export function parseStep(raw: unknown, where: string, key: string): Step {
  const allowed = STEP_KINDS.join(', ');
  if (!isPlain(raw)) fail(where, key, `a step is a mapping with one of ${allowed}`);
  const kinds = STEP_KINDS.filter((k) => k in raw);
  if (kinds.length !== 1) {
    fail(where, key, kinds.length === 0 ? `a step needs one of ${allowed} (got ${Object.keys(raw).join(', ') || 'nothing'})` : `one kind per step, got ${kinds.join(' and ')}`);
  }
  const kind = kinds[0];
  const schema = STEP_SCHEMAS[kind];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const accepted = Object.keys(schema.shape).join(', ');
    if (issue.code === 'unrecognized_keys') fail(where, `${key}.${issue.keys[0]}`, `unknown key; a ${kind} step takes ${accepted}`);
    const sub = issue.path.map(String).join('.');
    fail(where, sub ? `${key}.${sub}` : key, issue.message);
  }
  return parsed.data as Step;
}

function parseEvery(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 100) return v;
  const m = typeof v === 'string' ? DURATION.exec(v.trim()) : null;
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
  if (!(ms >= 100)) fail(where, 'every', 'a duration of at least 100 ms: milliseconds, or a number with ms, s, m or h (30s, 5m)');
  return ms;
}

const CRON_HELP = 'a cron pattern of 5 fields (minute hour day month weekday) or 6 (with seconds first), such as "0 2 * * *"';

/** Checked with the parser BullMQ's job schedulers use, so a pattern accepted here is one they run. */
function checkCron(v: unknown, where: string): string {
  const fields = typeof v === 'string' ? v.trim().split(/\s+/) : [];
  if (!(fields.length === 5 || fields.length === 6) || !fields.every((f) => CRON_FIELD.test(f))) fail(where, 'schedule', CRON_HELP);
  const pattern = fields.join(' ');
  try {
    CronExpressionParser.parse(pattern);
  } catch (err) {
    fail(where, 'schedule', `"${pattern}" is not a valid cron pattern (${(err as Error).message}); ${CRON_HELP}`);
  }
  return pattern;
}

function checkTz(v: unknown, where: string): string {
  try {
    if (typeof v !== 'string') throw new RangeError();
    new Intl.DateTimeFormat('en', { timeZone: v });
    return v;
  } catch {
    return fail(where, 'tz', 'an IANA time zone such as Europe/Madrid or UTC');
  }
}

const TOP_KEYS = ['description', 'schedule', 'tz', 'every', 'steps'];

/** A whole definition as read from YAML. */
export function parseJobDefinition(name: string, raw: unknown, file: string): JobDefinition {
  if (!JOB_NAME.test(name)) fail(file, '(file name)', 'a job name is lower-case letters, digits, - and _ (the file name without .yaml)');
  if (!isPlain(raw)) fail(file, '(top level)', `a mapping with ${TOP_KEYS.join(', ')}`);
  const unknown = Object.keys(raw).filter((k) => !TOP_KEYS.includes(k));
  if (unknown.length > 0) fail(file, unknown[0], `unknown key; a job takes ${TOP_KEYS.join(', ')}`);
  const def: JobDefinition = { name, file, steps: [] };
  if (raw.description !== undefined) {
    if (typeof raw.description !== 'string') fail(file, 'description', 'text');
    def.description = raw.description;
  }
  if (raw.schedule !== undefined && raw.every !== undefined) fail(file, 'every', 'use schedule or every, not both');
  if (raw.schedule !== undefined) def.schedule = checkCron(raw.schedule, file);
  if (raw.every !== undefined) def.every = parseEvery(raw.every, file);
  if (raw.tz !== undefined) {
    if (def.schedule === undefined) fail(file, 'tz', 'only with schedule');
    def.tz = checkTz(raw.tz, file);
  }
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) fail(file, 'steps', 'a list of at least one step (pull, push, import or migrate)');
  def.steps = raw.steps.map((s, i) => parseStep(s, file, `steps.${i}`));
  return def;
}
