/** `members remove` and `members erase` (DESIGN.md "Lifecycle"), and the `--status` option of export and push. */
import os from 'node:os';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { eraseMember } from '../../pipeline/erase.js';
import { removeByHand } from '../../pipeline/lifecycle.js';
import { MEMBER_STATUSES, type MemberStatus } from '../../store/lifecycle-repo.js';
import { print, printJson, withStore } from '../context.js';

/** `--status active,removed` (or `all`) as a list of statuses; a wrong one names what is allowed. */
export function parseStatuses(value: string): MemberStatus[] {
  const parts = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (parts.includes('all')) return [...MEMBER_STATUSES];
  const bad = parts.filter((p) => !(MEMBER_STATUSES as readonly string[]).includes(p));
  if (bad.length > 0 || parts.length === 0) throw new InputError(`--status: expected ${MEMBER_STATUSES.join(', ')} or all (comma-separated), got '${value}'`);
  return parts as MemberStatus[];
}

export function registerLifecycle(members: Command): void {
  members
    .command('remove')
    .description('remove a member by hand: it is no longer exported or pushed; destinations with push.deletes delete it')
    .argument('<key>', 'uuid, cons_id, member_id or email')
    .option('--reason <text>', 'why (kept with the member and in the change log)')
    .option('--dry-run', 'say what would be done, change nothing')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
The member keeps its source records and history. A run of its own: member-sync revert RUN
makes it active again. A source that sends the person anew (a source record it did not
have, or one a complete pull had found gone) makes it active again too.

Example:
  member-sync members remove ana.garcia@example.org --reason "left the union, letter of 3 May"`,
    )
    .action(async (key: string, flags: { reason?: string; dryRun?: boolean; json?: boolean }) => {
      await withStore(async ({ db, config, log }) => {
        const s = await removeByHand(key, { db: db.knex, config, log, reason: flags.reason, dryRun: flags.dryRun });
        if (flags.json) return printJson(s);
        if (s.dry_run) return print(`would remove member ${s.member_id} (dry run, nothing changed)`);
        print(`removed member ${s.member_id} (run ${s.run_id}; member-sync revert ${s.run_id} undoes it)${s.reason ? `: ${s.reason}` : ''}`);
      });
    });

  members
    .command('erase')
    .description("erase a person (right to be forgotten): their data leaves every table, a tombstone refuses them later")
    .argument('<key>', 'uuid, cons_id, member_id or email')
    .option('--yes', 'do it (without it: say what would be done)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Deletes the person at every connection with push.deletes on that holds them (the others
are listed: tell them yourself), then removes their personal data from every table —
the member's fields, source records and their history, the change log's old and new
values, conflicts, rejects and run details that hold their values, push state, links —
keeping a tombstone: the member id, when, and keyed hashes (HMAC, a key of this database)
of their identity keys. A later record with one of those keys is rejected 'erased'
(member-sync import --allow-erased takes it). Cannot be reverted.

Example:
  member-sync members erase ana.garcia@example.org --yes`,
    )
    .action(async (key: string, flags: { yes?: boolean; json?: boolean }) => {
      await withStore(async ({ db, config, log }) => {
        const s = await eraseMember(key, { db: db.knex, config, log, yes: flags.yes, by: cliOperator() });
        if (flags.json) return printJson(s);
        const where = s.delete_at.length ? `deleted at ${s.delete_at.join(', ')}` : 'deleted at no connection';
        const others = s.not_deleted.map((n) => `  not deleted at ${n.connection}: ${n.reason} (delete them there yourself)`);
        if (s.dry_run) {
          print(`would erase member ${s.member_id}: ${s.delete_at.length ? `delete at ${s.delete_at.join(', ')}` : 'no connection to delete at'}; nothing done (--yes erases)`);
        } else {
          print(`erased member ${s.member_id} (run ${s.run_id}); ${where}`);
        }
        for (const l of others) print(l);
      });
    });
}

function cliOperator(): string {
  try {
    return `hand:${os.userInfo().username}`;
  } catch {
    return 'hand';
  }
}
