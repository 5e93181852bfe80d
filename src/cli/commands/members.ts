import type { Command } from 'commander';
import { csvLine } from '../../csv/write-csv.js';
import { fieldOrigins, findMembers, iterateMembers, memberHistory, memberLinks, type FieldOrigin } from '../../store/inspect-repo.js';
import type { SourceRecord } from '../../members/source-record.js';
import { trustResolver } from '../../pipeline/ingest.js';
import { splitMember } from '../../pipeline/split.js';
import { MEMBER_FIELDS, type Member } from '../../types.js';
import { print, printJson, table, withStore } from '../context.js';
import { parseStatuses, registerLifecycle } from './lifecycle.js';
import { mergedNote, registerMerge } from './merge.js';

const RULE_TEXT: Record<string, string> = {
  new: 'created from this record (rule 5: no match)',
  link: 'rule 0: its source sent it before (source record or link)',
  cons_id: 'rule 1: same cons_id',
  member_id: 'rule 2: same member_id',
  email: 'rule 3: same email',
};

function exportRow(m: Member): Record<string, unknown> {
  const row: Record<string, unknown> = { id: m.id };
  for (const f of MEMBER_FIELDS) row[f] = (m as unknown as Record<string, unknown>)[f] ?? null;
  return row;
}

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
}

export function registerMembers(program: Command): void {
  const members = program.command('members').description('look at the canonical member list, and split a member');
  registerSplit(members);
  registerMerge(members);
  registerLifecycle(members);

  members
    .command('export')
    .description('write every member to stdout as CSV or JSON lines (canonical field names)')
    .option('-f, --format <format>', 'csv or jsonl', 'csv')
    .option('--status <list>', 'members of these statuses, comma-separated: active, removed, erased, or all', 'active')
    .addHelpText('after', '\nExamples:\n  member-sync members export > members.csv\n  member-sync members export --format jsonl | jq .email\n  member-sync members export --status removed')
    .action(async (flags: { format: string; status: string }) => {
      if (flags.format !== 'csv' && flags.format !== 'jsonl') throw new Error(`--format: expected csv or jsonl, got '${flags.format}'`);
      const statuses = parseStatuses(flags.status);
      await withStore(async ({ db }) => {
        const columns = ['id', ...MEMBER_FIELDS];
        if (flags.format === 'csv') await write(csvLine(columns));
        for await (const page of iterateMembers(db.knex, 5000, statuses)) {
          let chunk = '';
          for (const m of page) {
            const row = exportRow(m);
            chunk += flags.format === 'csv' ? csvLine(columns.map((c) => row[c])) : JSON.stringify(row) + '\n';
          }
          await write(chunk);
        }
      });
    });

  members
    .command('show')
    .description('one member: fields with provenance, links with the rule that matched, history')
    .argument('<key>', 'uuid, cons_id, member_id or email')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  member-sync members show ana.garcia@example.org\n  member-sync members show 100234 --json')
    .action(async (key: string, flags: { json?: boolean }) => {
      const code = await withStore(async ({ db, config }) => {
        const found = await findMembers(db.knex, key);
        if (found.length === 0) {
          // an id absorbed by members merge answers with the member it went to
          const merged = await mergedNote(db.knex, key);
          if (merged) {
            if (flags.json) printJson(merged.json);
            else print(merged.text);
            return 0;
          }
          process.stderr.write(`member-sync: no member has the key '${key}'\n`);
          return 1;
        }
        const out = [];
        for (const m of found) {
          const links = await memberLinks(db.knex, m.id);
          const history = await memberHistory(db.knex, m.id);
          const { origins, sources } = await fieldOrigins(db.knex, m, trustResolver(config));
          const lifecycle = await db.knex('members').where({ id: m.id }).first('status', 'removed_at', 'removed_by', 'removed_reason');
          out.push({ member: m, lifecycle, set_by: origins, sources: sources.map(sourceJson), links, history });
        }
        if (flags.json) {
          printJson(found.length === 1 ? out[0] : out);
          return 0;
        }
        for (const { member, lifecycle, set_by, sources, links, history } of out) {
          if (lifecycle && lifecycle.status !== 'active') {
            const when = lifecycle.removed_at ? ` since ${new Date(lifecycle.removed_at).toISOString()}` : '';
            print(`status: ${lifecycle.status}${when}${lifecycle.removed_by ? ` by ${lifecycle.removed_by}` : ''}${lifecycle.removed_reason ? `: ${lifecycle.removed_reason}` : ''}`);
          }
          printMember(member, set_by, sources, links, history);
        }
        return 0;
      });
      process.exitCode = code;
    });
}

/** A source record as `members show --json` prints it; `ref` is what `members split --source` takes. */
function sourceJson(sr: SourceRecord) {
  return { ref: `${sr.source}:${sr.key}`, id: sr.id, source: sr.source, key: sr.key, values: sr.values, first_run_id: sr.firstRunId, last_run_id: sr.lastRunId };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function registerSplit(members: Command): void {
  members
    .command('split')
    .description('move some of a member\'s source records to a new member, and compute both again')
    .argument('<member>', 'uuid, cons_id, member_id or email')
    .requiredOption('--source <ref>', 'a source record, as members show lists it (source:key, or its [id]); repeat for more', collect, [])
    .option('--dry-run', 'say what the two members would be, writing nothing')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
A run of its own (member-sync revert RUN undoes it); the next push sends both members.
Refused when it would leave the member with no source record, or give both the same
identity key.

Examples:
  member-sync members show ana@example.org
  member-sync members split ana@example.org --source vocdoni-main:ext:17`,
    )
    .action(async (key: string, flags: { source: string[]; dryRun?: boolean; json?: boolean }) => {
      await withStore(async ({ db, config, log }) => {
        const s = await splitMember(key, flags.source, { db: db.knex, config, log, dryRun: flags.dryRun });
        if (flags.json) return printJson(s);
        print(`${s.dry_run ? 'would split' : 'split'} ${s.moved.join(', ')} off member ${s.member_id} into new member ${s.new_member_id}${s.run_id ? ` (run ${s.run_id})` : ' (dry run, nothing written)'}`);
        for (const c of s.member_changes) print(`  ${s.member_id} ${c}`);
        print(`  new member: ${JSON.stringify(s.new_member)}`);
      });
    });
}

function printMember(m: Member, origins: Record<string, FieldOrigin>, sources: ReturnType<typeof sourceJson>[], links: Record<string, unknown>[], history: Record<string, unknown>[]): void {
  print(`member ${m.id}`);
  const rows = MEMBER_FIELDS.filter((f) => (m as unknown as Record<string, unknown>)[f] !== undefined).map((f) => {
    const o = origins[f];
    const other = f === 'other' ? [...new Set(Object.keys(m.other ?? {}).map((k) => origins[`other.${k}`]?.source).filter(Boolean))].join(', ') : '';
    return { field: f, value: (m as unknown as Record<string, unknown>)[f], 'from source': o ? `${o.source} ${o.key}${o.changed_at ? ` (changed ${o.changed_at})` : ''}` : other };
  });
  print(table(rows, ['field', 'value', 'from source']));
  print('');
  print('source records (what each source last said; split one off with members split --source REF):');
  for (const sr of sources) print(`  [${sr.id}] ${sr.ref}: first run ${sr.first_run_id}, last run ${sr.last_run_id}: ${JSON.stringify(sr.values)}`);
  print('');
  print('links:');
  if (links.length === 0) print('  (none)');
  for (const l of links) print(`  ${l.connection} ${l.external_id}: ${RULE_TEXT[String(l.rule)] ?? l.rule} (run ${l.run_id})`);
  print('');
  print('history:');
  for (const h of history) {
    const why = RULE_TEXT[String(h.rule)] ?? h.rule;
    const what = h.field === '_created' ? 'created' : `${h.field}: ${JSON.stringify(h.old)} -> ${JSON.stringify(h.new)}`;
    print(`  run ${h.run_id} ${h.source}${h.source_ref ? ` ${h.source_ref}` : ''} [${why}] ${what}`);
  }
}
