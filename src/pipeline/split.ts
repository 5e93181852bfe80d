/**
 * `member-sync members split`: move some of a member's source records to a new member and
 * compute both again. A run (kind 'split') with the source records' history, so `revert`
 * undoes it; the change log says what each member became, so the next push sends both.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import type { SourceRecord } from '../members/source-record.js';
import { uuidv7 } from '../members/uuid7.js';
import { findMembers } from '../store/inspect-repo.js';
import { takeIngestLock } from '../store/members-repo.js';
import { addRunCounts, createRun, finishRun } from '../store/runs-repo.js';
import { keyClashes, planMoves, writeMoves } from '../store/source-moves.js';
import { sourcesOfMembers } from '../store/source-repo.js';
import { trustResolver } from './ingest.js';

export interface SplitOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  dryRun?: boolean;
}

export interface SplitSummary {
  run_id: number | null;
  member_id: string;
  new_member_id: string;
  moved: string[];
  /** fields each member would change, as `field: old -> new` */
  member_changes: string[];
  new_member: Record<string, unknown>;
  dry_run: boolean;
}

/** `source:key` as `members show` lists it (`vocdoni-main:ext:17`, `file:canonical:email:a@x.org`), or a source record's id. */
export function matchRef(ref: string, sr: SourceRecord): boolean {
  return /^\d+$/.test(ref) ? sr.id === Number(ref) : `${sr.source}:${sr.key}` === ref;
}

export async function splitMember(key: string, refs: string[], opts: SplitOptions): Promise<SplitSummary> {
  if (refs.length === 0) throw new InputError('name the source records to split off with --source (members show lists them)');
  const found = await findMembers(opts.db, key);
  if (found.length === 0) throw new InputError(`no member has the key '${key}'`);
  if (found.length > 1) throw new InputError(`${found.length} members have the key '${key}'; name one by its id`);
  const member = found[0];
  const sources = await sourcesOfMembers(opts.db, [member.id]);
  const moving = sources.filter((sr) => refs.some((r) => matchRef(r, sr)));
  const unknown = refs.filter((r) => !sources.some((sr) => matchRef(r, sr)));
  if (unknown.length > 0) {
    throw new InputError(`member ${member.id} has no source record ${unknown.join(', ')}; it has: ${sources.map((s) => `${s.source}:${s.key}`).join(', ')}`);
  }
  if (moving.length === sources.length) throw new InputError(`splitting off every source record of member ${member.id} would leave it with none; name fewer with --source`);
  const dry = Boolean(opts.dryRun);
  const runId = dry ? 0 : await createRun(opts.db, { kind: 'split', source: `member:${member.id}`, details: { member_id: member.id, sources: moving.map((s) => `${s.source}:${s.key}`) } });
  const newId = uuidv7();
  const ops = moving.map((sr) => ({ current: sr, target: { ...sr, memberId: newId, lastRunId: runId || sr.lastRunId } }));
  const work = async (db: Knex | Knex.Transaction): Promise<SplitSummary> => {
    if (!dry) await takeIngestLock(db);
    const outcomes = await planMoves(db, ops, trustResolver(opts.config), [{ id: newId, created_run_id: runId || null }]);
    const clashes = await keyClashes(db, outcomes, opts.config.matching.allowDuplicateEmails);
    if (clashes.size > 0) {
      throw new InputError(`cannot split: ${[...new Set(clashes.values())].join('; ')} (identity keys are unique: split off the sources that carry it too)`);
    }
    if (!dry) {
      await writeMoves(db as Knex.Transaction, runId, ops, outcomes, [], { source: 'split', ref: `member ${member.id}`, rule: 'split' });
      await addRunCounts(db, runId, { rows: moving.length, created: 1, updated: 1 });
    }
    const mine = outcomes.get(member.id)!;
    const { id: _i, provenance: _p, created_run_id: _c, ...fresh } = outcomes.get(newId)!.next! as unknown as Record<string, unknown>;
    return {
      run_id: dry ? null : runId,
      member_id: member.id,
      new_member_id: newId,
      moved: moving.map((s) => `${s.source}:${s.key}`),
      member_changes: mine.changes.map((c) => `${c.field}: ${JSON.stringify(c.old)} -> ${JSON.stringify(c.new)}`),
      new_member: fresh,
      dry_run: dry,
    };
  };
  try {
    const s = dry ? await work(opts.db) : await opts.db.transaction(work);
    if (!dry) await finishRun(opts.db, runId, 'succeeded', { details: { new_member_id: newId } });
    opts.log.info({ run: s.run_id, member: member.id, newMember: newId, moved: s.moved.length }, dry ? 'split planned' : 'member split');
    return s;
  } catch (err) {
    if (!dry) await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}
