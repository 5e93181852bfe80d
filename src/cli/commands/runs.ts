import type { Command } from 'commander';
import { listConflicts, listRejects } from '../../store/inspect-repo.js';
import { countPushErrors, listPushErrors } from '../../store/push-repo.js';
import { getRun, listRuns } from '../../store/runs-repo.js';
import { print, printJson, table, withStore } from '../context.js';

export function registerRuns(program: Command): void {
  const runs = program
    .command('runs')
    .description('what ran: imports, pulls, pushes, with counts and status (newest first)')
    .option('--json', 'print JSON lines')
    .option('-n, --limit <n>', 'how many', (v) => Number(v), 50)
    .action(async (flags: { json?: boolean; limit: number }) => {
      await withStore(async ({ db }) => {
        const rows = await listRuns(db.knex, flags.limit);
        if (flags.json) {
          for (const r of rows) printJson(r);
          return;
        }
        if (rows.length === 0) return print('no runs yet');
        print(table(rows, ['id', 'kind', 'source', 'status', 'rows', 'created', 'updated', 'unchanged', 'conflicts', 'rejected', 'started_at']));
      });
    });

  runs
    .command('show')
    .description('one run: counts, duration, the first conflicts and rejects, failed pushes with the remote error')
    .argument('<run_id>', 'a run id from `member-sync runs`')
    .option('--json', 'print JSON')
    .option('--failed', 'list every failed push of the run, not just the first 20')
    .action(async (id: string, flags: { json?: boolean; failed?: boolean }) => {
      // `runs` has its own --json, and commander hands `runs show 3 --json` to it
      flags.json ||= Boolean(runs.opts().json);
      const code = await withStore(async ({ db }) => {
        const run = await getRun(db.knex, Number(id));
        if (!run) {
          process.stderr.write(`member-sync: no run ${id}\n`);
          return 1;
        }
        const conflicts = await listConflicts(db.knex, run.id, 20);
        const rejects = await listRejects(db.knex, run.id, 20);
        // failed pushes: the remote error of each member a push run could not deliver
        const failedTotal = run.kind === 'push' ? await countPushErrors(db.knex, run.id) : 0;
        const failed = failedTotal > 0 ? await listPushErrors(db.knex, run.id, flags.failed ? undefined : 20) : [];
        const durationMs = run.finished_at ? new Date(run.finished_at).getTime() - new Date(run.started_at).getTime() : null;
        if (flags.json) {
          printJson({ ...run, duration_ms: durationMs, conflicts_sample: conflicts, rejects_sample: rejects, failed_pushes: failed, failed_pushes_total: failedTotal });
          return 0;
        }
        print(`run ${run.id}: ${run.kind} ${run.source ?? ''} ${run.status}${durationMs !== null ? ` in ${(durationMs / 1000).toFixed(1)} s` : ''}`);
        print(`  rows ${run.rows}: ${run.created} created, ${run.updated} updated, ${run.unchanged} unchanged, ${run.conflicts} conflicts, ${run.rejected} rejected`);
        if (run.error) print(`  ${run.status === 'interrupted' ? 'stopped' : 'error'}: ${run.error}`);
        if (conflicts.length) {
          print(`\nconflicts (first ${conflicts.length}; all: member-sync conflicts --run ${run.id}):`);
          for (const c of conflicts) print(`  ${c.source_ref ?? ''} ${c.reason} candidates ${c.candidate_ids.join(', ')}`);
        }
        if (rejects.length) {
          print(`\nrejects (first ${rejects.length}; all: member-sync rejects --run ${run.id}):`);
          for (const r of rejects) print(`  ${r.source_ref ?? ''} ${r.reason}`);
        }
        if (failed.length) {
          const all = failed.length < failedTotal ? `first ${failed.length} of ${failedTotal}; all: member-sync runs show ${run.id} --failed` : `${failedTotal}`;
          print(`\nfailed pushes (${all}):`);
          for (const f of failed) print(`  ${f.member_key ?? f.member_email ?? f.member_id} ${f.status === 'pending' ? '(transient, sent again next push)' : '(permanent)'}: ${f.message}`);
        }
        return 0;
      });
      process.exitCode = code;
    });
}
