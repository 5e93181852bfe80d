import path from 'node:path';
import type { Command } from 'commander';
import { BUILTIN_MAPPINGS } from '../../csv/mappings.js';
import { INPUT_ENCODINGS, parseEncoding } from '../../csv/read-csv.js';
import { importFile, type ImportSummary } from '../../pipeline/import-file.js';
import { print, printJson, withStore } from '../context.js';
import { INTERRUPTED_EXIT_CODE, stopOnSignal } from '../interrupt.js';
import { startProgress } from '../progress.js';

interface ImportFlags {
  connection?: string;
  source?: string;
  mapping?: string;
  encoding: string;
  dryRun?: boolean;
  force?: boolean;
  allowErased?: boolean;
  json?: boolean;
}

export function summaryLine(s: ImportSummary): string {
  if (s.skipped) return `${s.file}: skipped, ${s.skipped.reason}`;
  const run = s.run_id ? `run ${s.run_id}` : 'dry run, nothing written';
  const mapping = s.mapping_detected && s.mapping !== 'canonical' ? `; mapping ${s.mapping}, chosen from the headers` : s.mapping !== 'canonical' ? `; mapping ${s.mapping}` : '';
  const stopped = s.interrupted ? 'interrupted after ' : '';
  return `${s.file}: ${stopped}${s.rows} rows: ${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged, ${s.conflicts} conflicts, ${s.rejected} rejected (${run}${mapping})`;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('import CSV files into the canonical member list (identity rules, change log, rejects)')
    .argument('<file...>', 'CSV files (UTF-8 with or without BOM, UTF-16 with BOM, or the --encoding given)')
    .option('-c, --connection <name>', 'attribute the rows to this configured connection (its trust rank; external_id column makes links)')
    .option('-s, --source <name>', "without --connection: the file source the rows are records of (default: the mapping's name); files of one source restate the same source records")
    .option('-m, --mapping <name|file>', `header mapping: ${BUILTIN_MAPPINGS.join(', ')}, or a YAML mapping file (default: the built-in one the headers fit)`)
    .option('--encoding <encoding>', `encoding of a file without a BOM: ${INPUT_ENCODINGS.join(', ')}`, 'utf8')
    .option('--dry-run', 'decide everything and report the counts, writing nothing')
    .option('--force', 'import even if the same content was imported before with the same options')
    .option('--allow-erased', "import rows whose keys match an erased person's tombstone (rejected 'erased' otherwise)")
    .option('--json', 'print one JSON object per file on stdout')
    .addHelpText(
      'after',
      `
Every row ends up created, updated, unchanged, a conflict or rejected; rows = the sum.
Conflicts and rejects are results, not failures: the exit code is 0 when the file was read.
Ctrl-C stops after the batch in hand (exit 130); the same import again continues.

Examples:
  member-sync import members.csv
  member-sync import export.csv --mapping convio --connection convio-main --json
  member-sync import excel-export.csv --encoding windows-1252 --dry-run`,
    )
    .action(async (files: string[], flags: ImportFlags) => {
      const encoding = parseEncoding(flags.encoding);
      const stop = stopOnSignal();
      try {
        await withStore(async ({ config, db, log }) => {
          stop.keepOnlyOurs();
          for (const [i, file] of files.entries()) {
            if (stop.signal.aborted) {
              print(`not imported (interrupted): ${files.slice(i).join(', ')}`);
              process.exitCode = INTERRUPTED_EXIT_CODE;
              break;
            }
            const bar = flags.json ? undefined : startProgress(`${path.basename(file)} [{bar}] {percentage}% | {rows} rows`, { rows: 0 });
            let summary: ImportSummary;
            try {
              summary = await importFile(file, {
                db: db.knex,
                config,
                log,
                connection: flags.connection,
                source: flags.source,
                mapping: flags.mapping,
                encoding,
                dryRun: flags.dryRun,
                force: flags.force,
                allowErased: flags.allowErased,
                signal: stop.signal,
                onProgress: (done, total, c) => bar?.update(total ? done / total : 0, { rows: c.rows }),
              });
            } finally {
              bar?.stop();
            }
            report(summary, flags);
            if (summary.interrupted) process.exitCode = INTERRUPTED_EXIT_CODE;
          }
        });
      } finally {
        stop.dispose();
      }
    });
}

function report(summary: ImportSummary, flags: ImportFlags): void {
  if (flags.json) {
    const { run_id, file, rows, created, updated, unchanged, conflicts, rejected, skipped, dry_run, mapping, mapping_detected, other_columns, interrupted } = summary;
    printJson({ run_id, file, rows, created, updated, unchanged, conflicts, rejected, dry_run, mapping, mapping_detected, other_columns, ...(interrupted ? { interrupted } : {}), ...(skipped ? { skipped } : {}) });
    return;
  }
  print(summaryLine(summary));
  if (summary.interrupted) print(summary.dry_run ? '  stopped on request: nothing was written' : '  stopped on request: run the same import again to continue (the rows already in come out unchanged)');
  if (summary.conflicts > 0 && summary.run_id) print(`  conflicts: member-sync conflicts --run ${summary.run_id}`);
  if (summary.rejected > 0 && summary.run_id) print(`  rejects:   member-sync rejects --run ${summary.run_id}`);
}
