import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { redact } from '../../log.js';
import { pushConnection, type PlanEntry, type PushSummary } from '../../pipeline/push.js';
import { print, printJson, withStore } from '../context.js';
import { parseStatuses } from './lifecycle.js';

interface PushFlags {
  dryRun?: boolean;
  plan?: string;
  limit?: number;
  retryFailed?: boolean;
  json?: boolean;
  status: string;
  allowMassDelete?: boolean;
}

export function pushLine(s: PushSummary): string {
  const run = s.run_id ? `run ${s.run_id}` : 'dry run, nothing sent';
  const done = s.dry_run ? `${s.created} to create, ${s.updated} to update, ${s.skipped} to skip` : `${s.created} created, ${s.updated} updated, ${s.failed} failed, ${s.skipped} skipped`;
  const deletes = s.deleted || s.delete_failed ? `; ${s.deleted} ${s.dry_run ? 'to delete' : 'deleted'}${s.delete_failed ? `, ${s.delete_failed} delete(s) failed` : ''}` : '';
  return `${s.connection}: ${s.selected} selected: ${done}${deletes}; ${s.unchanged} unchanged; ${s.requests} requests (${run})`;
}

/** One line per reason members were skipped (this push's and those held from before). */
export function skipLines(s: PushSummary): string[] {
  const lines = Object.entries(s.skip_reasons)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `  ${n} skipped: ${reason}`);
  if (s.held_skipped > 0) lines.push(`  (${s.held_skipped} of those were skipped before and did not change: counted unchanged, not tried again)`);
  return lines;
}

const show = (v: unknown): string => (v === null || v === undefined ? '∅' : JSON.stringify(v));

export function planLines(e: PlanEntry): string[] {
  if (e.action === 'skip') return [`skip    ${e.member}: ${e.reason}`];
  if (e.action === 'delete') return [`delete  ${e.member}${e.remote_id ? ` (remote ${e.remote_id})` : ''}: ${e.reason}`];
  const head = `${e.action.padEnd(7)} ${e.member}${e.remote_id ? ` (remote ${e.remote_id})` : ''}`;
  return [head, ...(e.changes ?? []).map((c) => `    ${c.field}: ${show(c.old)} -> ${show(c.new)}`)];
}

/**
 * SIGINT/SIGTERM: start no new member, let the ones in flight finish and record them.
 * A second signal exits at once; a push run again later picks up where this one stopped.
 */
export function stopOnSignals(ac: AbortController): () => void {
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(`member-sync: ${sig}: finishing the members in flight, then stopping (again to quit at once)\n`);
    ac.abort(new Error(`stopped by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Opened up front so a bad path fails before anything is sent. */
function openPlan(file: string): WriteStream {
  try {
    return createWriteStream('', { fd: openSync(file, 'w') });
  } catch (err) {
    throw new InputError(`--plan: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export function registerPush(program: Command): void {
  program
    .command('push')
    .description('send the members whose mapped payload changed since the last push to a connection')
    .argument('<connection>', 'a connection name from the config (convio, ikanow, community, wevote or vocdoni kind)')
    .option('--dry-run', 'send nothing, write nothing: print the plan (create or update, each field old -> new)')
    .option('--plan <file>', 'write the plan as JSON lines to this file')
    .option('--limit <n>', 'send at most this many members', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InputError(`--limit: expected a positive integer, got '${v}'`);
      return n;
    })
    .option('--retry-failed', 'also send members whose last push failed permanently and that did not change since')
    .option('--status <list>', 'send members of these statuses (active, removed, erased, all; comma-separated)', 'active')
    .option('--allow-mass-delete', 'with push.deletes: delete even more members than push.maxDeletes')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
A member is sent when its payload for the connection (the connector's mapping of the
canonical member) hashes differently from what the connection last accepted, or when
its last push failed for a transient reason. Right after a successful push, a push
sends nothing. The connection's rateLimit (perSecond, concurrency) applies; 429s and
5xx are retried with backoff, honouring Retry-After. Permanent failures (4xx, remote
validation or duplicate errors) are recorded with the remote code and message and
sent again only when the member changes, or with --retry-failed.

Exit code 1 (the run is recorded as failed, with the reason) when members were left
undelivered for a transient reason (the destination down, 5xx or timeouts past the
retries) or the push stopped early: after 20 such failures in a row, on a Retry-After
longer than 60 s, or on Ctrl-C. The next push sends what is left.

Remote ids learned (Convio cons_id, IKANOW _id, Vocdoni id, ...) become links, so the
next push updates. A push cut short (Ctrl-C, a crash) and run again creates no
duplicate: members without a link are found by the system's own lookup first.

With the connection's push.deletes on, removed and erased members it holds are deleted
there first (Convio: removed from options.groupIds), at most push.maxDeletes (default 5%
of the people it holds, at least 10) unless --allow-mass-delete: past that, nothing is
deleted or sent and the push fails with the reason (exit 1). --dry-run lists the deletes.

Members a system cannot take (Convio: no e-mail and no cons_id; Vocdoni: no member_id;
the community: no link) are skipped up front with the reason, listed in the plan and
the summary, and not tried again until they change.

JSON summary: {"run_id","connection","selected","created","updated","unchanged","failed","requests","skipped","skip_reasons","deleted","delete_failed"}
(and "error" when the run failed)
Failed members of a run: member-sync runs show <run_id>

Examples:
  member-sync push convio-main --dry-run
  member-sync push vocdoni-main --plan plan.jsonl --dry-run
  member-sync push ikanow-main --limit 100 --json`,
    )
    .action(async (name: string, flags: PushFlags) => {
      const ac = new AbortController();
      const unhook = stopOnSignals(ac);
      let plan: WriteStream | undefined;
      try {
        plan = flags.plan ? openPlan(flags.plan) : undefined;
        // a plan is written to a file or, on a dry run, printed; a push without either skips it
        const onPlan =
          plan || (flags.dryRun && !flags.json)
            ? (e: PlanEntry): void => {
                plan?.write(redact(JSON.stringify(e)) + '\n');
                if (flags.dryRun && !flags.json && !plan) for (const line of planLines(e)) print(line);
              }
            : undefined;
        const s = await withStore(({ config, db, log }) =>
          pushConnection(name, {
            db: db.knex,
            config,
            log,
            dryRun: flags.dryRun,
            retryFailed: flags.retryFailed,
            limit: flags.limit,
            stop: ac.signal,
            onPlan,
            statuses: parseStatuses(flags.status),
            allowMassDelete: flags.allowMassDelete,
          }),
        );
        if (flags.json) {
          const { run_id, connection, selected, created, updated, unchanged, failed, requests, skipped, skip_reasons } = s;
          printJson({ run_id, connection, selected, created, updated, unchanged, failed, requests, skipped, skip_reasons, deleted: s.deleted, delete_failed: s.delete_failed, ...(s.error ? { error: s.error } : {}) });
        } else {
          print(pushLine(s));
          for (const line of skipLines(s)) print(line);
          if (flags.plan) print(`  plan: ${flags.plan}`);
          if (s.failed > 0 && s.run_id) print(`  failed: member-sync runs show ${s.run_id}`);
          if (s.held_failed > 0) print(`  ${s.held_failed} failed before and did not change: not sent (--retry-failed sends them)`);
        }
        // the run failed: stopped early, or members left undelivered for a transient reason
        if (s.error) {
          process.stderr.write(`member-sync: push ${s.connection} failed: ${redact(s.error)}\n`);
          process.exitCode = 1;
        }
      } finally {
        unhook();
        if (plan) await new Promise<void>((resolve, reject) => plan!.end((err?: Error | null) => (err ? reject(err) : resolve())));
      }
    });
}
