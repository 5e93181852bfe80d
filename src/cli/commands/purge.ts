/** `member-sync purge`: apply the retention settings now (the worker does it daily). */
import type { Command } from 'commander';
import { purge } from '../../pipeline/purge.js';
import { print, printJson, withStore } from '../context.js';

export function registerPurge(program: Command): void {
  program
    .command('purge')
    .description('apply retention: delete old rejects and closed conflicts, blank old change-log values')
    .option('--dry-run', 'count what would go, change nothing')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Settings (days; unset keeps forever): retention.rejectsDays, retention.conflictsDays
(resolved or ignored conflicts), retention.changeValuesDays (the old and new values of the
change log are blanked; the fact of each change stays). The worker applies them at start
and every 24 hours.

Examples:
  member-sync purge --dry-run
  member-sync purge --json`,
    )
    .action(async (flags: { dryRun?: boolean; json?: boolean }) => {
      await withStore(async ({ db, config, log }) => {
        const s = await purge({ db: db.knex, config, log, dryRun: flags.dryRun });
        if (flags.json) return printJson(s);
        if (!s.configured) return print('no retention.* setting: nothing is purged (see config/default.yaml)');
        if (s.busy) return print('another process is applying retention right now; nothing done here');
        const verb = s.dry_run ? 'would' : 'did';
        print(`${verb} delete ${s.rejects} reject(s) and ${s.conflicts} closed conflict(s), ${verb} blank the values of ${s.change_values} change-log row(s)${s.run_id ? ` (run ${s.run_id})` : ' (dry run, nothing changed)'}`);
      });
    });
}
