/**
 * `member-sync members merge <member> <member>`: the first member absorbs the second — its
 * source records, links and push state move, and the survivor is computed again from all
 * of them (survivorship). The absorbed id is kept in `merged_members`, so `members show`
 * answers it with "merged into …".
 *
 * A destination that held both people: the survivor keeps its remote record there (and the
 * next push updates it); the absorbed one's remote record is left as it is and listed in
 * the run's details (`left_remote`). A run (kind 'merge') written through writeMoves, so
 * `revert` brings the absorbed member back with its source records.
 */
import type { Knex } from 'knex';
import { describeError, InputError } from '../errors.js';
import type { Member } from '../types.js';
import { recordMerged } from '../store/conflicts-repo.js';
import { findMembers } from '../store/inspect-repo.js';
import { takeIngestLock } from '../store/members-repo.js';
import { addRunCounts, createRun, finishRun } from '../store/runs-repo.js';
import { keyClashes, planMoves, writeMoves } from '../store/source-moves.js';
import { sourcesOfMembers } from '../store/source-repo.js';
import { trustResolver } from './ingest.js';
import type { StewardOptions } from './resolve.js';

export interface MergeSummary {
  run_id: number;
  member_id: string;
  absorbed_id: string;
  moved: string[];
  member_changes: string[];
  /** remote records of the absorbed member at destinations that hold the survivor too: left there */
  left_remote: { connection: string; remote_id: string | null }[];
}

async function one(db: Knex, key: string): Promise<Member> {
  const found = await findMembers(db, key);
  if (found.length === 0) throw new InputError(`no member has the key '${key}'`);
  if (found.length > 1) throw new InputError(`${found.length} members have the key '${key}'; name one by its id`);
  return found[0];
}

function snapshotOf(m: Member): Record<string, unknown> {
  const { id: _i, provenance: _p, created_run_id: _c, created_at: _a, updated_at: _u, ...values } = m;
  return values;
}

export async function mergeMembers(keepKey: string, absorbKey: string, opts: StewardOptions): Promise<MergeSummary> {
  const keep = await one(opts.db, keepKey);
  const gone = await one(opts.db, absorbKey);
  if (keep.id === gone.id) throw new InputError(`'${keepKey}' and '${absorbKey}' are the same member (${keep.id})`);
  const runId = await createRun(opts.db, { kind: 'merge', source: `member:${keep.id}`, details: { member_id: keep.id, absorbed_id: gone.id, by: opts.by } });
  const work = async (trx: Knex.Transaction): Promise<MergeSummary> => {
    await takeIngestLock(trx);
    const sources = await sourcesOfMembers(trx, [gone.id]);
    const ops = sources.map((sr) => ({ current: sr, target: { ...sr, memberId: keep.id, lastRunId: runId } }));
    const outcomes = await planMoves(trx, ops, trustResolver(opts.config));
    if (!outcomes.has(gone.id)) outcomes.set(gone.id, { prev: gone, next: undefined, sources: [], changes: [] });
    const clashes = await keyClashes(trx, outcomes, opts.config.matching.allowDuplicateEmails);
    if (clashes.size > 0) throw new InputError(`cannot merge: ${[...new Set(clashes.values())].join('; ')}`);
    // push state: the survivor keeps its own; the absorbed member's moves where the survivor has none
    const { rows: left } = await trx.raw(
      `delete from push_state g using push_state k where g.member_id = ? and k.member_id = ? and k.connection = g.connection returning g.connection, g.remote_id`,
      [gone.id, keep.id],
    );
    await trx.raw(`update push_state set member_id = ? where member_id = ?`, [keep.id, gone.id]);
    await writeMoves(trx, runId, ops, outcomes, [{ id: gone.id, snapshot: snapshotOf(gone) }], { source: 'steward', ref: `merge of ${gone.id}`, rule: 'merge' });
    // links without a source record (a push's learned remote ids) go with the person too
    await trx.raw(`update member_links set member_id = ? where member_id = ?`, [keep.id, gone.id]);
    await recordMerged(trx, gone.id, keep.id, runId);
    const mine = outcomes.get(keep.id);
    await addRunCounts(trx, runId, { rows: sources.length, updated: 1 });
    return {
      run_id: runId,
      member_id: keep.id,
      absorbed_id: gone.id,
      moved: sources.map((s) => `${s.source}:${s.key}`),
      member_changes: (mine?.changes ?? []).map((c) => `${c.field}: ${JSON.stringify(c.old)} -> ${JSON.stringify(c.new)}`),
      left_remote: (left as { connection: string; remote_id: string | null }[]).map((r) => ({ connection: r.connection, remote_id: r.remote_id })),
    };
  };
  try {
    const s = await opts.db.transaction(work);
    await finishRun(opts.db, runId, 'succeeded', { details: { moved: s.moved, left_remote: s.left_remote } });
    opts.log.info({ run: runId, member: keep.id, absorbed: gone.id, moved: s.moved.length }, 'members merged');
    return s;
  } catch (err) {
    await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}
