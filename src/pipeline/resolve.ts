/**
 * `member-sync conflicts resolve`: a steward decides what the rules refused. The refused
 * record becomes a source record — of the member named (`--merge-into`: the guard
 * overridden by a person) or of a new member (`--new-member`) — and the members it touches
 * are computed again; or the conflict is closed as `ignored`, changing nothing.
 *
 * Identity keys stay unique: a record that would give a member a key another member holds
 * is still refused, with that member named. A resolve is a run (kind 'resolve') written
 * through writeMoves, so `revert` undoes it and the next push sends the result.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { applyToSource, sourceKeyOf, Stamps, type SourceRecord } from '../members/source-record.js';
import { uuidv7 } from '../members/uuid7.js';
import type { MemberValues } from '../types.js';
import { closeConflict, getConflict, type ConflictRow } from '../store/conflicts-repo.js';
import { findMembers } from '../store/inspect-repo.js';
import { takeIngestLock } from '../store/members-repo.js';
import { addRunCounts, createRun, finishRun } from '../store/runs-repo.js';
import { keyClashes, planMoves, writeMoves, type MemberOutcome } from '../store/source-moves.js';
import { rowToSource, sourcesOfMembers } from '../store/source-repo.js';
import { trustResolver } from './ingest.js';

export type Resolution = { mergeInto: string } | { newMember: true } | { ignore: true };

export interface StewardOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  /** who decides: recorded with the conflict (`cli:<user>`, `review page`) */
  by: string;
}

export interface ResolveSummary {
  conflict_id: number;
  state: 'resolved' | 'ignored';
  run_id: number | null;
  /** the member the record now belongs to */
  member_id: string | null;
  created: boolean;
  /** fields of that member that changed, as `field: old -> new` */
  member_changes: string[];
}

/** The key the refused record has at its source: kept with the conflict since migration 009, derived for older ones. */
export function conflictSourceKey(c: ConflictRow): string {
  if (c.source_key) return c.source_key;
  const ext = !c.source.startsWith('file:') && c.source_ref?.startsWith('id ') ? c.source_ref.slice(3) : undefined;
  const key = sourceKeyOf((c.record.values ?? {}) as MemberValues, ext);
  if (!key) throw new InputError(`conflict ${c.id} keeps no identity key of its record; ignore it (--ignore)`);
  return key;
}

/** Name the member that holds a key the outcome would take (the message of a refusal). */
async function clashMessage(db: Knex.Transaction, outcomes: Map<string, MemberOutcome>, why: string[]): Promise<string> {
  const named: string[] = [];
  for (const field of ['cons_id', 'member_id', 'email'] as const) {
    for (const [id, o] of outcomes) {
      const v = o.next?.[field];
      if (!v || v === o.prev?.[field]) continue;
      const holder = await db('members').where(field, v).whereNot('id', id).first('id');
      if (holder && !outcomes.has(holder.id as string)) named.push(`${field} ${JSON.stringify(v)} is held by member ${holder.id as string}`);
    }
  }
  return named.length > 0 ? named.join('; ') : why.join('; ');
}

export async function resolveConflict(id: number, how: Resolution, opts: StewardOptions): Promise<ResolveSummary> {
  const conflict = await getConflict(opts.db, id);
  if (!conflict) throw new InputError(`no conflict ${id} (member-sync conflicts lists the open ones)`);
  if (conflict.state !== 'open') {
    throw new InputError(`conflict ${id} is ${conflict.state} already${conflict.resolved_by ? ` (by ${conflict.resolved_by}${conflict.resolved_at ? ` at ${new Date(conflict.resolved_at).toISOString()}` : ''})` : ''}`);
  }
  if ('ignore' in how) {
    const ok = await closeConflict(opts.db, id, 'ignored', opts.by, { action: 'ignore' }, null);
    if (!ok) throw new InputError(`conflict ${id} was closed by someone else meanwhile`);
    opts.log.info({ conflict: id }, 'conflict ignored');
    return { conflict_id: id, state: 'ignored', run_id: null, member_id: null, created: false, member_changes: [] };
  }
  let into: string | undefined;
  if ('mergeInto' in how) {
    const found = await findMembers(opts.db, how.mergeInto);
    if (found.length === 0) throw new InputError(`no member has the key '${how.mergeInto}'`);
    if (found.length > 1) throw new InputError(`${found.length} members have the key '${how.mergeInto}'; name one by its id`);
    into = found[0].id;
  }
  const key = conflictSourceKey(conflict);
  const action = into ? 'merge_into' : 'new_member';
  const runId = await createRun(opts.db, { kind: 'resolve', source: `conflict:${id}`, details: { conflict_id: id, action, ...(into ? { member_id: into } : {}) } });
  const memberId = into ?? uuidv7();
  const work = async (trx: Knex.Transaction): Promise<ResolveSummary> => {
    await takeIngestLock(trx);
    const { rows } = await trx.raw(`select * from source_records where source = ? and source_key = ?`, [conflict.source, key]);
    const existing: SourceRecord | undefined = rows[0] ? rowToSource(rows[0]) : undefined;
    if (existing && existing.memberId !== memberId) {
      const left = (await sourcesOfMembers(trx, [existing.memberId])).filter((s) => s.id !== existing.id);
      if (left.length === 0) {
        throw new InputError(
          `the record's source record ${conflict.source}:${key} is the only one of member ${existing.memberId}: ` +
            (into ? `merge the members instead (member-sync members merge ${into} ${existing.memberId})` : 'it is a member of its own already'),
        );
      }
    }
    const record = { ref: {}, values: (conflict.record.values ?? {}) as MemberValues, raw: {} };
    const applied = applyToSource(existing, record, new Stamps().next());
    const target: SourceRecord = {
      source: conflict.source,
      key,
      memberId,
      values: applied.values,
      stamps: applied.stamps,
      // what the source sent: the same record sent again is then unchanged, not refused again
      hash: conflict.fp ?? existing?.hash ?? '',
      firstRunId: existing?.firstRunId ?? runId,
      lastRunId: runId,
    };
    const ops = [{ current: existing, target }];
    const outcomes = await planMoves(trx, ops, trustResolver(opts.config), into ? [] : [{ id: memberId, created_run_id: runId }]);
    const clashes = await keyClashes(trx, outcomes, opts.config.matching.allowDuplicateEmails);
    if (clashes.size > 0) {
      const what = into ? `merge conflict ${id} into member ${into}` : `make conflict ${id} a new member`;
      throw new InputError(`cannot ${what}: ${await clashMessage(trx, outcomes, [...new Set(clashes.values())])} (identity keys are unique: merge or split those members first)`);
    }
    await writeMoves(trx, runId, ops, outcomes, [], { source: 'steward', ref: `conflict ${id}`, rule: 'resolve' });
    if (!(await closeConflict(trx, id, 'resolved', opts.by, { action, member_id: memberId }, runId))) {
      throw new InputError(`conflict ${id} was closed by someone else meanwhile`);
    }
    const mine = outcomes.get(memberId)!;
    await addRunCounts(trx, runId, { rows: 1, created: into ? 0 : 1, updated: into && mine.changes.length > 0 ? 1 : 0, unchanged: into && mine.changes.length === 0 ? 1 : 0 });
    return {
      conflict_id: id,
      state: 'resolved',
      run_id: runId,
      member_id: memberId,
      created: !into,
      member_changes: mine.changes.map((c) => `${c.field}: ${JSON.stringify(c.old)} -> ${JSON.stringify(c.new)}`),
    };
  };
  try {
    const s = await opts.db.transaction(work);
    await finishRun(opts.db, runId, 'succeeded', { details: { member_id: memberId } });
    opts.log.info({ run: runId, conflict: id, member: memberId, action }, 'conflict resolved');
    return s;
  } catch (err) {
    await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}
