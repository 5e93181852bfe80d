import type { Command } from 'commander';
import { csvLine } from '../../csv/write-csv.js';
import { listConflicts, listRejects } from '../../store/inspect-repo.js';
import { print, printJson, table, withStore } from '../context.js';

function runOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--run: expected a run id (a positive integer), got '${v}'`);
  return n;
}

export function registerReview(program: Command): void {
  program
    .command('conflicts')
    .description('records the identity rules refused to merge, with the reason and candidate members')
    .option('--run <id>', 'only this run', runOption)
    .option('--json', 'print JSON lines')
    .addHelpText(
      'after',
      `
Reasons: ambiguous_email, cons_id_mismatch, member_id_mismatch, duplicate_cons_id,
duplicate_member_id, duplicate_email (see the README's "Identity rules").

Example:
  member-sync conflicts --run 3`,
    )
    .action(async (flags: { run?: number; json?: boolean }) => {
      await withStore(async ({ db }) => {
        const rows = await listConflicts(db.knex, flags.run);
        if (flags.json) {
          for (const r of rows) printJson(r);
          return;
        }
        if (rows.length === 0) return print('no conflicts');
        print(table(rows.map((r) => ({ ...r, record: r.record?.values })), ['id', 'run_id', 'source', 'source_ref', 'reason', 'candidate_ids', 'record']));
      });
    });

  program
    .command('rejects')
    .description('rows that could not be read, with their line and reason (nothing is dropped silently)')
    .option('--run <id>', 'only this run', runOption)
    .option('--json', 'print JSON lines')
    .option('--csv', 'print CSV: line, reason, then the row as it was read')
    .addHelpText('after', '\nExamples:\n  member-sync rejects --run 3\n  member-sync rejects --run 3 --csv > rejects.csv')
    .action(async (flags: { run?: number; json?: boolean; csv?: boolean }) => {
      await withStore(async ({ db }) => {
        const rows = await listRejects(db.knex, flags.run);
        if (flags.json) {
          for (const r of rows) printJson(r);
          return;
        }
        if (flags.csv) {
          const cols: string[] = [];
          for (const r of rows) for (const k of Object.keys(r.raw ?? {})) if (!cols.includes(k)) cols.push(k);
          process.stdout.write(csvLine(['run_id', 'line', 'reason', ...cols]));
          for (const r of rows) process.stdout.write(csvLine([r.run_id, r.line ?? r.source_ref, r.reason, ...cols.map((c) => r.raw?.[c])]));
          return;
        }
        if (rows.length === 0) return print('no rejects');
        print(table(rows, ['id', 'run_id', 'source', 'source_ref', 'reason']));
      });
    });
}
