/**
 * What each connection is used for by the job files (pull, push, migrate steps, `*`
 * expanded), so that `member-sync check` and the worker's start-up check ask for the
 * rights the configured steps need. A connection no job names is checked for all its
 * connector can do.
 */
import type { Config } from '../config/schema.js';
import type { CheckNeeds } from '../connectors/types.js';
import type { Logger } from '../log.js';
import { capabilities, checkConnections } from '../pipeline/check.js';
import type { JobDefinitions } from './load-jobs.js';
import { expandSteps } from './units.js';

export function needsFromJobs(defs: JobDefinitions, config: Readonly<Config>): Map<string, CheckNeeds> {
  const used = new Map<string, CheckNeeds>();
  const mark = (name: string, op: keyof CheckNeeds): void => {
    if (!config.connections[name]) return;
    const n = used.get(name) ?? { pull: false, push: false };
    n[op] = true;
    used.set(name, n);
  };
  for (const def of defs.values()) {
    let units;
    try {
      units = expandSteps(def.steps, config, def.file);
    } catch {
      // a job that does not fit the config is reported where it is loaded, not here
      continue;
    }
    for (const u of units) {
      if (u.kind === 'pull') mark(u.connection, 'pull');
      else if (u.kind === 'push') mark(u.connection, 'push');
      else if (u.kind === 'migrate') {
        mark(u.from, 'pull');
        for (const t of u.to) mark(t, 'push');
      }
    }
  }
  for (const name of Object.keys(config.connections)) if (!used.has(name)) used.set(name, capabilities(config, name));
  return used;
}

/**
 * The worker's start-up check: every connection checked for what the jobs do with it, one
 * log line each (info when it passes, warn with the reason when not). In the background:
 * a slow or failing system neither delays nor stops the worker — its jobs fail with the
 * same reason, never retried, when they run.
 */
export async function logConnectionChecks(defs: JobDefinitions, config: Readonly<Config>, log: Logger, signal?: AbortSignal): Promise<void> {
  if (Object.keys(config.connections).length === 0) return;
  const results = await checkConnections({ config, log, needs: needsFromJobs(defs, config), signal });
  for (const r of results) {
    const fields = { connection: r.connection, kind: r.kind, needs: r.needs, ms: r.ms, ...(r.failure ? { failure: r.failure } : {}) };
    if (r.ok) log.info({ ...fields, checked: r.detail }, 'connection check passed');
    else log.warn({ ...fields, error: r.detail }, 'connection check failed: its jobs will fail until it is fixed (member-sync check)');
  }
}
