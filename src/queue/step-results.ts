/** What each unit of a job reports (JSON, kept in the job's result), and its one-line form. */
import type { PushSummary } from '../pipeline/push.js';
import type { RunCounts } from '../types.js';

export interface PullResult extends RunCounts {
  step: 'pull';
  connection: string;
  run_id: number | null;
  pages: number;
}

/** A push step's report: the push summary's counts (src/pipeline/push.ts). */
export type PushResult = { step: 'push' } & Pick<
  PushSummary,
  'connection' | 'run_id' | 'selected' | 'created' | 'updated' | 'unchanged' | 'failed' | 'skipped' | 'requests' | 'stopped'
>;

export interface ImportResult extends RunCounts {
  step: 'import';
  file: string;
  run_id: number | null;
  /** why nothing was imported (the same content before, or a file gone or changed) */
  skipped?: string;
  /** where the file was moved (drop folders) */
  moved_to?: string;
  /** the rejected rows, beside the moved file */
  rejects_csv?: string;
  /** why a file of a folder failed (it is in failed/) */
  error?: string;
}

export interface MigrateResult {
  step: 'migrate';
  run_id: number | null;
  from: string;
  to: string[];
  source: RunCounts & { run_id: number | null };
  pushes: PushResult[];
}

export type StepResult = PullResult | PushResult | ImportResult | MigrateResult;

const counts = (c: RunCounts) => `${c.rows} records: ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged, ${c.conflicts} conflicts, ${c.rejected} rejected`;
const run = (id: number | null) => (id ? ` (run ${id})` : '');

function pushLine(r: PushResult): string {
  return `push ${r.connection}: ${r.selected} selected: ${r.created} created, ${r.updated} updated, ${r.failed} failed, ${r.skipped} skipped; ${r.unchanged} unchanged${run(r.run_id)}${r.stopped ? `; stopped: ${r.stopped}` : ''}`;
}

export function resultLines(r: StepResult): string[] {
  switch (r.step) {
    case 'pull':
      return [`pull ${r.connection}: ${counts(r)}${run(r.run_id)}`];
    case 'push':
      return [pushLine(r)];
    case 'import': {
      const head = r.error ? `import ${r.file}: failed: ${r.error}` : r.skipped ? `import ${r.file}: skipped, ${r.skipped}` : `import ${r.file}: ${counts(r)}${run(r.run_id)}`;
      return [head + (r.moved_to ? ` -> ${r.moved_to}` : ''), ...(r.rejects_csv ? [`  rejects: ${r.rejects_csv}`] : [])];
    }
    case 'migrate':
      return [`migrate ${r.from} -> ${r.to.join(', ')}${run(r.run_id)}`, `  source: ${counts(r.source)}`, ...r.pushes.map((p) => `  ${pushLine(p)}`)];
  }
}
