/**
 * `member-sync members remove`: a steward removes a member by hand (DESIGN.md "Lifecycle").
 * A run (kind 'remove') whose change log says what it did, so `revert` undoes it. The
 * member keeps its source records; a source that sends it anew (a new source record, or
 * one it had stopped listing) makes it active again.
 */
import os from 'node:os';
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { findMembers } from '../store/inspect-repo.js';
import { removeMembers } from '../store/lifecycle-repo.js';
import { takeIngestLock } from '../store/members-repo.js';
import { addRunCounts, createRun, finishRun } from '../store/runs-repo.js';

export interface RemoveOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  reason?: string;
  dryRun?: boolean;
}

export interface RemoveSummary {
  run_id: number | null;
  member_id: string;
  removed_by: string;
  reason: string | null;
  dry_run: boolean;
}

/** Who removes by hand: the operating-system user running the command. */
function operator(): string {
  try {
    return `hand:${os.userInfo().username}`;
  } catch {
    return 'hand';
  }
}

/** The one member a key names, as it is now (with its status). */
export async function oneMember(db: Knex, key: string): Promise<{ id: string; status: string; removed_at: Date | null; removed_by: string | null; removed_reason: string | null }> {
  const found = await findMembers(db, key);
  if (found.length === 0) throw new InputError(`no member has the key '${key}'`);
  if (found.length > 1) throw new InputError(`${found.length} members have the key '${key}'; name one by its id`);
  return db('members').where({ id: found[0].id }).first('id', 'status', 'removed_at', 'removed_by', 'removed_reason');
}

export async function removeByHand(key: string, opts: RemoveOptions): Promise<RemoveSummary> {
  const m = await oneMember(opts.db, key);
  if (m.status !== 'active') {
    const since = m.removed_at ? ` since ${new Date(m.removed_at).toISOString()}` : '';
    throw new InputError(`member ${m.id} is ${m.status} already${since}${m.removed_by ? ` (by ${m.removed_by}${m.removed_reason ? `: ${m.removed_reason}` : ''})` : ''}`);
  }
  const by = operator();
  const reason = opts.reason?.trim() || null;
  const dry = Boolean(opts.dryRun);
  if (dry) return { run_id: null, member_id: m.id, removed_by: by, reason, dry_run: true };
  const runId = await createRun(opts.db, { kind: 'remove', source: `member:${m.id}`, details: { member_id: m.id, reason } });
  try {
    await opts.db.transaction(async (trx) => {
      await takeIngestLock(trx);
      const done = await removeMembers(trx, [m.id], runId, { reason, by, source: 'remove', ref: `member ${m.id}`, rule: 'by_hand' });
      if (done.length === 0) throw new InputError(`member ${m.id} was removed meanwhile by another process`);
      await addRunCounts(trx, runId, { rows: 1, updated: 1 });
    });
    await finishRun(opts.db, runId, 'succeeded', { details: { member_id: m.id, removed_by: by } });
  } catch (err) {
    await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
  opts.log.info({ run: runId, member: m.id }, 'member removed');
  return { run_id: runId, member_id: m.id, removed_by: by, reason, dry_run: false };
}
