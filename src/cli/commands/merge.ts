/** `members merge`: one member absorbs another (a steward's decision, a run of its own). */
import type { Command } from 'commander';
import { mergeMembers } from '../../pipeline/merge-members.js';
import { mergedInto } from '../../store/conflicts-repo.js';
import type { Knex } from 'knex';
import { print, printJson, withStore } from '../context.js';
import { cliUser } from './conflicts.js';

export function registerMerge(members: Command): void {
  members
    .command('merge')
    .description('merge two members: the first absorbs the second (its source records, links and push state)')
    .argument('<member>', 'the member that stays (uuid, cons_id, member_id or email)')
    .argument('<absorbed>', 'the member merged into it')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
The first member is computed again from the source records of both (survivorship); the
second's id then answers 'members show' with "merged into …". A run of its own
(member-sync revert RUN undoes it); the next push updates the survivor. A destination that
held both people keeps the absorbed one's record: the run lists it (left_remote).

Example:
  member-sync members merge ana.garcia@example.org 0190c2a4-5b1e-7c3d-9f00-1234567890ab`,
    )
    .action(async (keep: string, absorbed: string, flags: { json?: boolean }) => {
      await withStore(async ({ db, config, log }) => {
        const s = await mergeMembers(keep, absorbed, { db: db.knex, config, log, by: cliUser() });
        if (flags.json) return printJson(s);
        print(`merged member ${s.absorbed_id} into ${s.member_id} (run ${s.run_id}; member-sync revert ${s.run_id} undoes it): moved ${s.moved.join(', ') || 'no source record'}`);
        for (const c of s.member_changes) print(`  ${c}`);
        for (const l of s.left_remote) print(`  left at ${l.connection}: remote record ${l.remote_id ?? '(no id)'} of the absorbed member (both people were there)`);
      });
    });
}

/** For `members show` of an id no member has: the member it was merged into, if it was. */
export async function mergedNote(db: Knex, key: string): Promise<{ text: string; json: Record<string, unknown> } | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(key.trim())) return undefined;
  // recordMerged keeps each absorbed id pointing at the member that holds the person now
  const first = await mergedInto(db, key.trim().toLowerCase());
  if (!first) return undefined;
  const id = first.into_id;
  return { text: `member ${key.trim()} was merged into ${id} (run ${first.run_id}): member-sync members show ${id}`, json: { id: key.trim(), merged_into: id, run_id: first.run_id } };
}
