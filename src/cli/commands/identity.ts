/** `settings` (what every process must agree on) and `rules preview` (the rules under another config, writing nothing). */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config.js';
import { InputError } from '../../errors.js';
import { previewRules, type RulesPreview } from '../../pipeline/rules-preview.js';
import { DUPLICATE_EMAILS, readSetting, setEmailSetting } from '../../store/settings-repo.js';
import { print, printJson, withStore } from '../context.js';

function previewText(p: RulesPreview): string[] {
  const lines = [`${p.source_records} source records; ${p.members_now} members now, ${p.members_then} under the other config`];
  if (p.not_reproducible > 0) lines.push(`(${p.not_reproducible} members are not what today's rules give from today's source records: joined through a key changed since, or split by hand; not counted below)`);
  for (const [name, b] of [
    ['would merge', p.merge],
    ['would split', p.split],
    ['would change', p.change],
    ['would be refused (conflict)', p.conflicts],
  ] as const) {
    lines.push(`${b.count} ${name}`);
    for (const e of b.examples) lines.push(`  ${e.members.join(' + ')}: ${e.detail}`);
  }
  return lines;
}

export function registerIdentity(program: Command): void {
  const settings = program.command('settings').description('settings recorded in the database, which every process using it must agree on');
  settings
    .command('show')
    .description('print the recorded settings')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      await withStore(
        async ({ db, config }) => {
          const recorded = await readSetting(db.knex, DUPLICATE_EMAILS);
          if (flags.json) printJson({ [DUPLICATE_EMAILS]: recorded ?? null, config: { [DUPLICATE_EMAILS]: config.matching.allowDuplicateEmails } });
          else print(`${DUPLICATE_EMAILS}: ${recorded ?? '(not recorded yet)'} (this config: ${config.matching.allowDuplicateEmails})`);
        },
        { checkSettings: false },
      );
    });
  settings
    .command('set')
    .description('change a recorded setting, checking first that the store allows it')
    .argument('<key>', DUPLICATE_EMAILS)
    .argument('<value>', 'true or false')
    .addHelpText(
      'after',
      `
${DUPLICATE_EMAILS} true drops the unique index on e-mails; false checks that no two
members share an e-mail, then makes e-mails unique again. Change the setting in every
config that uses this database too: a process whose config disagrees refuses to start.

Example:
  member-sync settings set ${DUPLICATE_EMAILS} true`,
    )
    .action(async (key: string, value: string) => {
      if (key !== DUPLICATE_EMAILS) throw new InputError(`unknown setting '${key}'; the one there is: ${DUPLICATE_EMAILS}`);
      if (value !== 'true' && value !== 'false') throw new InputError(`${key}: expected true or false, got '${value}'`);
      await withStore(
        async ({ db }) => {
          const before = await setEmailSetting(db.knex, value === 'true');
          print(`${key}: ${before ?? '(not recorded)'} -> ${value}`);
        },
        { checkSettings: false },
      );
    });

  const rules = program.command('rules').description('the identity rules');
  rules
    .command('preview')
    .description('run the identity rules again over the stored source records under another config, writing nothing')
    .option('--config <file>', 'a config file laid over the current one (trust ranks, matching.allowDuplicateEmails)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Replays every source record (its latest values, in the order it was first seen) under
the current config and under the current one with FILE laid over it, and reports how many
members the second would merge, split or change, with up to 20 examples each. Holds the
source records in memory while it runs.

Example:
  member-sync rules preview --config trust-convio-first.yaml`,
    )
    .action(async (flags: { config?: string; json?: boolean }) => {
      await withStore(async ({ db, config }) => {
        const other = loadConfig({ files: flags.config ? [flags.config] : [] });
        const p = await previewRules(db.knex, config, other);
        if (flags.json) printJson(p);
        else previewText(p).forEach((l) => print(l));
      });
    });
}
