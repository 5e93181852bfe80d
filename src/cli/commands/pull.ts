import type { Command } from 'commander';
import { BusyError } from '../../errors.js';
import { pullConnection, type PullSummary } from '../../pipeline/pull.js';
import { connectionLocks } from '../../queue/connection-lock.js';
import { print, printJson, withStore } from '../context.js';

export function pullLine(s: PullSummary): string {
  const run = s.run_id ? `run ${s.run_id}` : 'dry run, nothing written';
  return `${s.connection}: ${s.rows} records in ${s.pages} pages: ${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged, ${s.conflicts} conflicts, ${s.rejected} rejected (${run})`;
}

export function registerPull(program: Command): void {
  program
    .command('pull')
    .description('read people from a configured connection into the canonical list, a page at a time')
    .argument('<connection>', 'a connection name from the config (convio, ikanow, community or vocdoni kind)')
    .option('--full', 'ignore the checkpoint and read everything')
    .option('--dry-run', 'decide everything and report the counts, writing nothing')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Each page is committed with its checkpoint, so an interrupted pull resumes where it
stopped. The records are matched with the same identity rules as an import; each
remote id becomes a link (rule 0 next time).

Examples:
  member-sync pull convio-main
  member-sync pull vocdoni-main --full --json`,
    )
    .action(async (name: string, flags: { full?: boolean; dryRun?: boolean; json?: boolean }) => {
      await withStore(async ({ config, db, log }) => {
        // the worker's lock for a connection (src/queue/connection-lock.ts): a CLI pull never
        // runs beside a worker's pull or push of the same connection on the same checkpoint
        const lock = flags.dryRun ? undefined : await connectionLocks(db.url, log).tryAcquire([name]);
        if (lock && !lock.ok) throw new BusyError(`connection '${name}' is busy: a worker job or another member-sync is pulling or pushing it; try again when it has finished`);
        const s = await pullConnection(name, { db: db.knex, config, log, full: flags.full, dryRun: flags.dryRun, signal: lock?.ok ? lock.held.lost : undefined }).finally(() => (lock?.ok ? lock.held.release() : undefined));
        if (flags.json) {
          const { run_id, connection, rows, created, updated, unchanged, conflicts, rejected, dry_run, pages } = s;
          printJson({ run_id, connection, rows, created, updated, unchanged, conflicts, rejected, dry_run, pages });
        } else {
          print(pullLine(s));
          if (s.conflicts > 0 && s.run_id) print(`  conflicts: member-sync conflicts --run ${s.run_id}`);
          if (s.rejected > 0 && s.run_id) print(`  rejects:   member-sync rejects --run ${s.run_id}`);
        }
      });
    });
}
