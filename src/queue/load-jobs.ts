/**
 * Reads `<jobsDir>/*.yaml` once at start. A file that is not a valid definition stops the
 * start with its file and key; a job naming a connection the config lacks is an error
 * when it has a schedule (it would fail at every run) and a warning otherwise (it fails
 * when queued).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config/schema.js';
import { connectorFor } from '../connectors/registry.js';
import { loadMapping } from '../csv/mappings.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { dropPathProblem } from './drop-path.js';
import { nameList, parseJobDefinition, parseStep, stepKind, type JobDefinition, type Step } from './job-definition.js';

export type JobDefinitions = ReadonlyMap<string, JobDefinition>;

export function loadJobDefinitions(dir: string): JobDefinitions {
  const defs = new Map<string, JobDefinition>();
  if (!existsSync(dir)) return defs;
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  for (const f of files) {
    const file = path.join(dir, f);
    const name = f.replace(/\.ya?ml$/, '');
    if (defs.has(name)) throw new ConfigError(`${file}: (file name): job '${name}' is defined twice (.yaml and .yml)`);
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    defs.set(name, parseJobDefinition(name, raw, file));
  }
  return defs;
}

/** Paths of one step that point into the drop folder and lead out of it: `key: message`. */
export function stepPathProblems(step: Step, key: string, config: Readonly<Config>): string[] {
  const problems: string[] = [];
  const check = (sub: string, p: string) => {
    const problem = dropPathProblem(p, config.dropFolder.path);
    if (problem) problems.push(`${key}.${sub}: ${problem}`);
  };
  if ('import' in step) check('import', step.import);
  if ('migrate' in step && !config.connections[step.migrate]) check('migrate', step.migrate);
  return problems;
}

/** Problems of one step against the config: `key: message`. `*` always resolves. */
export function stepProblems(step: Step, key: string, config: Readonly<Config>): string[] {
  const problems: string[] = stepPathProblems(step, key, config);
  const known = Object.keys(config.connections);
  const check = (sub: string, name: string, op: 'pull' | 'push' | 'any') => {
    const conn = config.connections[name];
    if (!conn) return problems.push(`${sub}: unknown connection '${name}'; configured: ${known.join(', ') || 'none'}`);
    const c = connectorFor(conn.kind);
    if (op === 'pull' && !c.pull) problems.push(`${sub}: '${name}' is a ${conn.kind} connection, which has no list API to pull from`);
    if (op === 'push' && !(c.push && c.toRemote)) problems.push(`${sub}: '${name}' is a ${conn.kind} connection, which member-sync does not push to`);
    return 0;
  };
  const each = (sub: string, v: string | string[], op: 'pull' | 'push') => {
    for (const n of nameList(v)) if (n !== '*') check(sub, n, op);
  };
  const kind = stepKind(step);
  if (kind === 'pull') each(`${key}.pull`, (step as { pull: string | string[] }).pull, 'pull');
  if (kind === 'push') each(`${key}.push`, (step as { push: string | string[] }).push, 'push');
  if ('import' in step && step.connection) check(`${key}.connection`, step.connection, 'any');
  if ('migrate' in step) {
    each(`${key}.to`, step.to, 'push');
    if (config.connections[step.migrate]) check(`${key}.migrate`, step.migrate, 'pull');
  }
  return problems;
}

export function jobProblems(def: JobDefinition, config: Readonly<Config>): string[] {
  return def.steps.flatMap((s, i) => stepProblems(s, `steps.${i}`, config)).map((p) => `${def.file}: ${p}`);
}

/** The drop folder's mapping and connection, checked before the first file arrives. */
export function checkDropFolderConfig(config: Readonly<Config>): void {
  const d = config.dropFolder;
  const problems: string[] = [];
  if (d.connection && !config.connections[d.connection]) {
    problems.push(`dropFolder.connection: unknown connection '${d.connection}'; configured: ${Object.keys(config.connections).join(', ') || 'none'}`);
  }
  try {
    loadMapping(d.mapping);
  } catch (err) {
    problems.push(`dropFolder.mapping: ${(err as Error).message}`);
  }
  if (problems.length > 0) throw new ConfigError(`config: ${problems.join('; ')}`);
}

/**
 * Fails for scheduled jobs, warns for the others; a path that leads out of the drop folder
 * fails for every job.
 */
export function checkJobsAgainstConfig(defs: JobDefinitions, config: Readonly<Config>, log: Logger): void {
  const fatal: string[] = [];
  for (const def of defs.values()) {
    const paths = def.steps.flatMap((s, i) => stepPathProblems(s, `steps.${i}`, config)).map((p) => `${def.file}: ${p}`);
    fatal.push(...paths);
    const problems = jobProblems(def, config).filter((p) => !paths.includes(p));
    if (problems.length === 0) continue;
    if (def.schedule || def.every) fatal.push(...problems);
    else log.warn({ job: def.name, problems }, `job '${def.name}' names connections the config cannot use; it will fail if queued`);
  }
  if (fatal.length > 0) throw new ConfigError(fatal.join('; '));
}

/** The definition of a job by name, checked against the config; for enqueue and run. */
export function requireJob(defs: JobDefinitions, name: string, config: Readonly<Config>, dir: string): JobDefinition {
  const def = defs.get(name);
  if (!def) {
    const known = [...defs.keys()];
    throw new ConfigError(`no job '${name}' in ${dir}${known.length ? `; jobs: ${known.join(', ')}` : ' (it has no .yaml files)'}`);
  }
  const problems = jobProblems(def, config);
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
  return def;
}

/** Ad-hoc steps given on the command line (`--steps`), as a job named `adhoc`. */
export function adhocJob(text: string): JobDefinition {
  const where = '--steps';
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${where}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new ConfigError(`${where}: a YAML list of steps, such as '[{pull: convio-main}, {push: vocdoni-main}]'`);
  }
  return { name: 'adhoc', file: where, steps: raw.map((s, i) => parseStep(s, where, String(i))) };
}
