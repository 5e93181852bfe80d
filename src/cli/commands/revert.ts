import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { revertRun, type RevertSummary } from '../../pipeline/revert.js';
import type { RevertItem } from '../../pipeline/revert-plan.js';
import { print, printJson, withStore } from '../context.js';

const show = (v: unknown): string => (v === null || v === undefined ? '∅' : JSON.stringify(v));

function itemLine(i: RevertItem): string {
  switch (i.action) {
    case 'restore':
      return `restore ${i.member} ${i.field}: ${show(i.from)} -> ${show(i.to)}`;
    case 'skip':
      return `skip    ${i.member}${i.field ? ` ${i.field}` : ''}: ${i.reason}`;
    case 'remove':
      return `remove  ${i.member} (created by the run)`;
    default:
      return `keep    ${i.member}: ${i.reason}`;
  }
}

function summaryLine(s: RevertSummary): string {
  const run = s.run_id ? `run ${s.run_id}` : 'dry run, nothing written';
  return `revert of run ${s.reverted_run_id}: ${s.fields_restored} fields restored, ${s.fields_skipped} skipped, ${s.members_removed} members removed, ${s.members_kept} kept (${run})`;
}

export function registerRevert(program: Command): void {
  program
    .command('revert')
    .description('undo a run: put back the fields it changed and remove the members it created, unless changed since')
    .argument('<run_id>', 'an import, pull, migrate or revert run (member-sync runs lists them)')
    .option('--dry-run', 'list what would be restored, skipped and removed, writing nothing')
    .option('--json', 'print one JSON line per item, then the summary')
    .addHelpText(
      'after',
      `
Every field the run changed goes back to its value before the run, unless a later run
changed it again (listed as skipped). Members the run created are removed unless a later
run changed or linked them, or they were pushed somewhere since (kept, with the reason).
The revert is a run of its own in the change log, so the next push sends the restored
values. Remote systems never have a value erased by a push: a field restored to empty
keeps its remote value.

Examples:
  member-sync revert 12 --dry-run
  member-sync revert 12`,
    )
    .action(async (id: string, flags: { dryRun?: boolean; json?: boolean }) => {
      const runId = Number(id);
      if (!Number.isInteger(runId) || runId < 1) throw new InputError(`run_id: expected a run number, got '${id}'`);
      await withStore(async ({ config, db, log }) => {
        const s = await revertRun(runId, {
          db: db.knex,
          log,
          dryRun: flags.dryRun,
          config,
          onItem: (i) => (flags.json ? printJson(i) : print(itemLine(i))),
        });
        if (flags.json) printJson(s);
        else print(summaryLine(s));
      });
    });
}
