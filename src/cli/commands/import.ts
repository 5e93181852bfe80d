import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { BUILTIN_MAPPINGS } from '../../csv/mappings.js';
import { importFile, type ImportSummary } from '../../pipeline/import-file.js';
import { print, printJson, withStore } from '../context.js';

interface ImportFlags {
  connection?: string;
  mapping?: string;
  encoding?: string;
  dryRun?: boolean;
  force?: boolean;
  json?: boolean;
}

export function summaryLine(s: ImportSummary): string {
  if (s.skipped) return `${s.file}: skipped, ${s.skipped.reason}`;
  const run = s.run_id ? `run ${s.run_id}` : 'dry run, nothing written';
  return `${s.file}: ${s.rows} rows: ${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged, ${s.conflicts} conflicts, ${s.rejected} rejected (${run})`;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('import CSV files into the canonical member list (identity rules, change log, rejects)')
    .argument('<file...>', 'CSV files (UTF-8 with or without BOM, UTF-16 with BOM, or Latin-1 with --encoding)')
    .option('-c, --connection <name>', 'attribute the rows to this configured connection (its trust rank; external_id column makes links)')
    .option('-m, --mapping <name|file>', `header mapping: ${BUILTIN_MAPPINGS.join(', ')}, or a YAML mapping file`, 'canonical')
    .option('--encoding <encoding>', 'file encoding when there is no BOM: utf8 or latin1', 'utf8')
    .option('--dry-run', 'decide everything and report the counts, writing nothing')
    .option('--force', 'import even if the same content was imported before')
    .option('--json', 'print one JSON object per file on stdout')
    .addHelpText(
      'after',
      `
Every row ends up created, updated, unchanged, a conflict or rejected; rows = the sum.
Conflicts and rejects are results, not failures: the exit code is 0 when the file was read.

Examples:
  member-sync import members.csv
  member-sync import export.csv --mapping convio --connection convio-main --json
  member-sync import old.csv --encoding latin1 --dry-run`,
    )
    .action(async (files: string[], flags: ImportFlags) => {
      if (flags.encoding !== 'utf8' && flags.encoding !== 'latin1') {
        throw new Error(`--encoding: expected utf8 or latin1, got '${flags.encoding}'`);
      }
      await withStore(async ({ config, db, log }) => {
        for (const file of files) {
          const bar = process.stderr.isTTY && !flags.json ? new cliProgress.SingleBar({ format: `${file} [{bar}] {percentage}% | {rows} rows`, stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
          bar?.start(100, 0, { rows: 0 });
          try {
            const summary = await importFile(file, {
              db: db.knex,
              config,
              log,
              connection: flags.connection,
              mapping: flags.mapping,
              encoding: flags.encoding as 'utf8' | 'latin1',
              dryRun: flags.dryRun,
              force: flags.force,
              onProgress: (done, total, c) => bar?.update(total ? Math.min(100, Math.round((done / total) * 100)) : 0, { rows: c.rows }),
            });
            bar?.update(100);
            bar?.stop();
            if (flags.json) {
              const { run_id, file: f, rows, created, updated, unchanged, conflicts, rejected, skipped, dry_run } = summary;
              printJson({ run_id, file: f, rows, created, updated, unchanged, conflicts, rejected, dry_run, ...(skipped ? { skipped } : {}) });
            } else {
              print(summaryLine(summary));
              if (summary.conflicts > 0 && summary.run_id) print(`  conflicts: member-sync conflicts --run ${summary.run_id}`);
              if (summary.rejected > 0 && summary.run_id) print(`  rejects:   member-sync rejects --run ${summary.run_id}`);
            }
          } finally {
            bar?.stop();
          }
        }
      });
    });
}
