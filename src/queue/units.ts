/**
 * A job's steps as units of work: one per connection of a `pull`/`push` list (`*`
 * becomes every configured connection that can), one per `import` and `migrate`. A unit
 * is what holds connection locks, what a resumed job skips when it is done, and what
 * reports one result.
 */
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { connectorFor } from '../connectors/registry.js';
import type { InputEncoding } from '../csv/read-csv.js';
import { ConfigError } from '../errors.js';
import { nameList, type Step } from './job-definition.js';
import { stepProblems } from './load-jobs.js';

export type Unit =
  | { kind: 'pull'; connection: string; full?: boolean }
  | { kind: 'push'; connection: string; retryFailed?: boolean; limit?: number }
  | { kind: 'import'; path: string; mapping?: string; connection?: string; encoding?: InputEncoding }
  | { kind: 'migrate'; from: string; to: string[]; mapping?: string };

function every(config: Readonly<Config>, op: 'pull' | 'push'): string[] {
  return Object.entries(config.connections)
    .filter(([, c]) => {
      const k = connectorFor(c.kind);
      return op === 'pull' ? Boolean(k.pull) : Boolean(k.push && k.toRemote);
    })
    .map(([name]) => name);
}

function expandNames(v: string | string[], config: Readonly<Config>, op: 'pull' | 'push'): string[] {
  const out: string[] = [];
  for (const n of nameList(v)) for (const m of n === '*' ? every(config, op) : [n]) if (!out.includes(m)) out.push(m);
  return out;
}

/** Units of the steps, checked against the config (a ConfigError names the step). */
export function expandSteps(steps: Step[], config: Readonly<Config>, where: string): Unit[] {
  const problems = steps.flatMap((s, i) => stepProblems(s, `steps.${i}`, config));
  if (problems.length > 0) throw new ConfigError(`${where}: ${problems.join('; ')}`);
  const units: Unit[] = [];
  for (const s of steps) {
    if ('pull' in s) units.push(...expandNames(s.pull, config, 'pull').map((c): Unit => ({ kind: 'pull', connection: c, full: s.full })));
    else if ('push' in s) units.push(...expandNames(s.push, config, 'push').map((c): Unit => ({ kind: 'push', connection: c, retryFailed: s.retryFailed, limit: s.limit })));
    else if ('import' in s) units.push({ kind: 'import', path: s.import, mapping: s.mapping, connection: s.connection, encoding: s.encoding });
    else units.push({ kind: 'migrate', from: s.migrate, to: nameList(s.to), mapping: s.mapping });
  }
  return units;
}

export function unitLabel(u: Unit): string {
  switch (u.kind) {
    case 'pull':
    case 'push':
      return `${u.kind} ${u.connection}`;
    case 'import':
      return `import ${u.path}`;
    case 'migrate':
      return `migrate ${u.from} -> ${u.to.join(',')}`;
  }
}

/** The connections a unit works on: the ones it must hold the lock of. */
export function unitConnections(u: Unit, config: Readonly<Config>): string[] {
  switch (u.kind) {
    case 'pull':
    case 'push':
      return [u.connection];
    case 'import':
      return u.connection ? [u.connection] : [];
    case 'migrate':
      return [...(config.connections[u.from] ? [u.from] : []), ...u.to];
  }
}

/** Relative paths in job files are relative to where the worker runs. */
export function resolvePath(p: string): string {
  return path.resolve(p);
}
