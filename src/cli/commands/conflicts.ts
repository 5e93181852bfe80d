/** `conflicts` (the queue), `conflicts resolve` (a steward's decision) and `rejects`. */
import os from 'node:os';
import type { Command } from 'commander';
import { csvLine } from '../../csv/write-csv.js';
import { InputError } from '../../errors.js';
import { resolveConflict, type Resolution } from '../../pipeline/resolve.js';
import { listQueue, queueCounts, type ConflictState } from '../../store/conflicts-repo.js';
import { listRejects } from '../../store/inspect-repo.js';
import { print, printJson, table, withStore } from '../context.js';

function runOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--run: expected a run id (a positive integer), got '${v}'`);
  return n;
}

const STATES = ['open', 'resolved', 'ignored', 'all'];

/** Who decides, as the conflict records it: the user at this terminal. */
export function cliUser(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    return 'cli';
  }
}

export function registerConflicts(program: Command): void {
  const conflicts = program
    .command('conflicts')
    .description('the queue of records the identity rules refused to merge, with the reason and candidate members')
    .option('--run <id>', 'only conflicts this run refused (first or again)', runOption)
    .option('--reason <reason>', 'only this reason')
    .option('--state <state>', `open, resolved, ignored or all`, 'open')
    .option('--json', 'print JSON lines')
    .addHelpText(
      'after',
      `
Reasons: ambiguous_email, cons_id_mismatch, member_id_mismatch, duplicate_cons_id,
duplicate_member_id, duplicate_email (see the README's "Identity rules"). The same record
refused again for the same reason updates its conflict (times_seen, last_run_id).
Work through them with 'member-sync conflicts resolve' or the review page ('member-sync review').

Examples:
  member-sync conflicts --run 3
  member-sync conflicts --state all --json`,
    )
    .action(async (flags: { run?: number; reason?: string; state: string; json?: boolean }) => {
      if (!STATES.includes(flags.state)) throw new InputError(`--state: expected one of ${STATES.join(', ')}, got '${flags.state}'`);
      await withStore(async ({ db }) => {
        const filter = { runId: flags.run, reason: flags.reason, state: flags.state as ConflictState | 'all' };
        const rows = await listQueue(db.knex, filter);
        if (flags.json) {
          for (const r of rows) printJson(r);
          return;
        }
        if (rows.length === 0) return print(`no ${flags.state === 'all' ? '' : `${flags.state} `}conflicts`);
        print(
          table(
            rows.map((r) => ({ ...r, record: r.record?.values, seen: r.times_seen, last_run: r.last_run_id })),
            ['id', 'state', 'run_id', 'last_run', 'seen', 'source', 'source_ref', 'reason', 'candidate_ids', 'record'],
          ),
        );
        const c = await queueCounts(db.knex, filter);
        print(`${c.total} conflicts (${Object.entries(c.byReason).map(([k, n]) => `${n} ${k}`).join(', ')}); open ${c.byState.open}, resolved ${c.byState.resolved}, ignored ${c.byState.ignored}`);
      });
    });

  conflicts
    .command('resolve')
    .description('decide an open conflict: merge its record into a member, make it a new member, or ignore it')
    .argument('<id>', 'the conflict id (member-sync conflicts lists them)')
    .option('--merge-into <member>', 'apply the record to this member (uuid, cons_id, member_id or email): the guard overridden by you')
    .option('--new-member', 'make the record a member of its own')
    .option('--ignore', 'close the conflict, changing nothing (the same record sent again stays ignored)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Merging and new members are runs of their own (member-sync revert RUN undoes one); the
next push sends the result. Identity keys stay unique: a record that would give a member
a cons_id, member_id or e-mail another member holds is refused, naming that member.

Examples:
  member-sync conflicts resolve 12 --merge-into ana.garcia@example.org
  member-sync conflicts resolve 13 --new-member
  member-sync conflicts resolve 14 --ignore`,
    )
    .action(async (idText: string, flags: { mergeInto?: string; newMember?: boolean; ignore?: boolean; json?: boolean }) => {
      const id = Number(idText);
      if (!Number.isSafeInteger(id) || id <= 0) throw new InputError(`expected a conflict id (a positive integer), got '${idText}'`);
      const chosen = [flags.mergeInto !== undefined, Boolean(flags.newMember), Boolean(flags.ignore)].filter(Boolean).length;
      if (chosen !== 1) throw new InputError('say what to do with the conflict: one of --merge-into <member>, --new-member, --ignore');
      const how: Resolution = flags.mergeInto !== undefined ? { mergeInto: flags.mergeInto } : flags.newMember ? { newMember: true } : { ignore: true };
      await withStore(async ({ db, config, log }) => {
        const s = await resolveConflict(id, how, { db: db.knex, config, log, by: cliUser() });
        if (flags.json) return printJson(s);
        if (s.state === 'ignored') return print(`conflict ${id} ignored`);
        print(`conflict ${id} resolved: ${s.created ? 'new member' : 'merged into member'} ${s.member_id} (run ${s.run_id}; member-sync revert ${s.run_id} undoes it)`);
        for (const c of s.member_changes) print(`  ${c}`);
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
