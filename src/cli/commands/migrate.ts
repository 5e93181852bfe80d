import type { Command } from 'commander';
import { BUILTIN_MAPPINGS } from '../../csv/mappings.js';
import { migrate, type MigrateSummary } from '../../pipeline/migrate.js';
import { print, printJson, withStore } from '../context.js';
import { planLines, pushLine, stopOnSignals } from './push.js';

interface MigrateFlags {
  from: string;
  to: string[];
  mapping?: string;
  dryRun?: boolean;
  json?: boolean;
}

function sourceLine(s: MigrateSummary['source']): string {
  const what = s.kind === 'pull' ? `pulled ${s.connection}` : `imported ${s.file}`;
  if (s.kind === 'import' && s.skipped) return `${what}: skipped, ${s.skipped.reason}`;
  return `${what}: ${s.rows} records: ${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged, ${s.conflicts} conflicts, ${s.rejected} rejected`;
}

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('a one-off migration: pull (or import) everything from a source, then push to each target')
    .requiredOption('--from <connection|file>', 'a configured connection to pull in full, or a CSV file to import')
    .requiredOption('--to <connection...>', 'one or more connections to push to, in order')
    .option('-m, --mapping <name|file>', `CSV header mapping when --from is a file: ${BUILTIN_MAPPINGS.join(', ')}, or a YAML file`)
    .option('--dry-run', 'read the source, decide everything in a transaction that is rolled back, and print what each push would send')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Recorded as one run (kind migrate) whose child runs are the pull or import and one push
per target (member-sync runs show <run_id>). Each target gets an ordinary push: every
member whose payload for it changed, with the same retries, rate limits and
idempotence as member-sync push. A migration that stopped can simply be run again.

Examples:
  member-sync migrate --from convio-main --to vocdoni-main community-main --dry-run
  member-sync migrate --from old-members.csv --mapping convio --to convio-main --json`,
    )
    .action(async (flags: MigrateFlags) => {
      const ac = new AbortController();
      const unhook = stopOnSignals(ac);
      try {
        const s = await withStore(({ config, db, log }) =>
          migrate({
            db: db.knex,
            config,
            log,
            from: flags.from,
            to: flags.to,
            mapping: flags.mapping,
            dryRun: flags.dryRun,
            stop: ac.signal,
            // the plan is for the operator to read before migrating; a real run does not print it
            onPlan:
              flags.dryRun && !flags.json
                ? (target, e) => {
                    for (const line of planLines(e)) print(`${target}: ${line}`);
                  }
                : undefined,
          }),
        );
        if (flags.json) {
          const pushes = s.pushes.map(({ run_id, connection, selected, created, updated, unchanged, failed, requests, skipped }) => ({ run_id, connection, selected, created, updated, unchanged, failed, requests, skipped }));
          printJson({ run_id: s.run_id, from: s.from, to: s.to, source: s.source, pushes, dry_run: s.dry_run });
        } else {
          print(`migrate ${s.run_id ? `run ${s.run_id}` : '(dry run, nothing written or sent)'}`);
          print(`  ${sourceLine(s.source)}`);
          for (const p of s.pushes) print(`  ${pushLine(p)}`);
          if (s.run_id) print(`  details: member-sync runs show ${s.run_id}`);
        }
        const failed = s.pushes.find((p) => p.error);
        if (failed || s.pushes.length < s.to.length) {
          process.stderr.write(`member-sync: migrate stopped${failed ? `: push to ${failed.connection}: ${failed.error}` : ''}; run it again to continue\n`);
          process.exitCode = 1;
        }
      } finally {
        unhook();
      }
    });
}
