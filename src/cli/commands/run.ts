import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../errors.js';
import { connectionLocks } from '../../queue/connection-lock.js';
import { isTemporaryName } from '../../queue/drop-files.js';
import { InterruptedError } from '../../queue/queue-errors.js';
import type { JobDefinition } from '../../queue/job-definition.js';
import { adhocJob, loadJobDefinitions, requireJob } from '../../queue/load-jobs.js';
import { runUnits } from '../../queue/run-units.js';
import { resultLines, type StepResult } from '../../queue/step-results.js';
import { expandSteps, type Unit } from '../../queue/units.js';
import { print, printJson, withStore } from '../context.js';
import { keepOnlyOurSignalHandlers } from './worker.js';

/** The job a command names: a definition (`<job>`) or ad-hoc steps (`--steps`). */
export function jobFromArgs(name: string | undefined, steps: string | undefined, config: Readonly<Config>): JobDefinition {
  if (name && steps) throw new ConfigError('name a job or give --steps, not both');
  if (steps) {
    const def = adhocJob(steps);
    expandSteps(def.steps, config, '--steps');
    return def;
  }
  if (!name) throw new ConfigError(`name a job (a file in ${config.worker.jobsDir}) or give --steps`);
  const dir = path.resolve(config.worker.jobsDir);
  return requireJob(loadJobDefinitions(dir), name, config, config.worker.jobsDir);
}

export interface WaitingFile {
  folder: string;
  file: string;
  /** why it was not taken this time */
  reason: string;
}

/**
 * The files an `import: <folder>` step left in the folder: still written under a temporary
 * name, or changed within `dropFolder.stableMs` (a file that just landed). Said, because a
 * run that took nothing otherwise looks like one that found nothing.
 */
export async function waitingFiles(dir: string, stableMs: number, now = Date.now()): Promise<WaitingFile[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: WaitingFile[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const file = path.join(dir, e.name);
    if (isTemporaryName(e.name)) {
      if (!e.name.startsWith('.')) out.push({ folder: dir, file, reason: 'still being written (a temporary name); taken once renamed' });
      continue;
    }
    const st = await stat(file).catch(() => undefined);
    if (st && now - st.mtimeMs < stableMs) {
      const ago = Math.max(0, (now - st.mtimeMs) / 1000).toFixed(1);
      out.push({ folder: dir, file, reason: `changed ${ago} s ago; taken once unchanged for ${stableMs / 1000} s (dropFolder.stableMs): run again then` });
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

async function isFolder(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description("run a job's steps here and now, without a queue")
    .argument('[job]', `a job definition: jobs/<job>.yaml (worker.jobsDir)`)
    .option('--steps <yaml>', "ad-hoc steps instead of a job, as a YAML list: '[{pull: convio-main}, {push: vocdoni-main}]'")
    .option('--json', 'print {job, results} as JSON')
    .addHelpText(
      'after',
      `
The same steps, pipeline code and connection locks as the worker: a connection another
job is working on is waited for. SIGINT/SIGTERM stop after the batch in hand (exit 1);
running the job again continues (every step is safe to run again).

Examples:
  member-sync run nightly
  member-sync run --steps '[{pull: convio-main}, {push: "*"}]' --json`,
    )
    .action(async (name: string | undefined, flags: { steps?: string; json?: boolean }) => {
      const ac = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (ac.signal.aborted) process.exit(130);
        process.stderr.write(`member-sync: ${sig}: stopping after the batch in hand\n`);
        ac.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await withStore(async ({ config, db, log }) => {
          keepOnlyOurSignalHandlers(onSignal);
          const def = jobFromArgs(name, flags.steps, config);
          const units = expandSteps(def.steps, config, def.file);
          const waiting: WaitingFile[] = [];
          // after an `import: <folder>` unit: what it left there, and why
          const folderReport = async (u: Unit, results: StepResult[]): Promise<string[]> => {
            if (u.kind !== 'import' || !(await isFolder(u.path))) return [];
            const left = await waitingFiles(path.resolve(u.path), config.dropFolder.stableMs);
            waiting.push(...left);
            if (left.length === 0 && results.length === 0) return [`import ${u.path}: no files waiting`];
            return left.map((w) => `import ${u.path}: ${path.basename(w.file)} waits: ${w.reason}`);
          };
          const results: StepResult[] = await runUnits(units, {
            db: db.knex,
            config,
            log: log.child({ job: def.name }),
            signal: ac.signal,
            locks: connectionLocks(db.url, log),
            onBusy: async (connection, label) => {
              log.warn({ connection, step: label }, `connection ${connection} is busy with another job; waiting`);
              await sleep(Math.min(config.worker.busyDelayMs, 5000), ac.signal);
              if (ac.signal.aborted) throw new InterruptedError(`interrupted while waiting for connection ${connection}`);
            },
            onUnitDone: async (key, r) => {
              const notes = await folderReport(units[Number(key.split(':', 1)[0])], r);
              if (!flags.json) for (const line of [...r.flatMap(resultLines), ...notes]) print(line);
            },
          });
          if (flags.json) printJson({ job: def.name, results, ...(waiting.length > 0 ? { waiting } : {}) });
          if (results.some((r) => r.step === 'import' && r.error)) process.exitCode = 1;
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
