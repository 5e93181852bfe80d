/**
 * `member-sync members erase`: a person asked to be forgotten (GDPR art. 17). Their status
 * becomes `erased` (nothing is pushed for them any more), they are deleted at every
 * connection with push.deletes on that holds them (the others are listed), and then their
 * personal data leaves every table in one transaction, leaving a tombstone of keyed hashes:
 * a later record with one of those keys is rejected `erased` (unless imported with
 * --allow-erased). A delete that fails stops the erasure before the wipe (the remote ids
 * are still needed to delete); the same command again continues.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { connectorFor } from '../connectors/registry.js';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { listDeleteRows } from '../store/delete-repo.js';
import { erasureKey, identityOf, keyedHash, wipePerson, type WipeCounts } from '../store/erasure-repo.js';
import { logStatusChanges, type MemberStatus } from '../store/lifecycle-repo.js';
import { takeIngestLock } from '../store/members-repo.js';
import { addRunCounts, createRun, finishRun } from '../store/runs-repo.js';
import { oneMember } from './lifecycle.js';
import { connectionContext } from './pull.js';
import { sendDeletes } from './push-deletes.js';

export interface EraseOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  /** without it, only say what would be done */
  yes?: boolean;
  by?: string;
}

export interface EraseSummary {
  run_id: number | null;
  member_id: string;
  /** connections the person is deleted at (or would be) */
  delete_at: string[];
  /** connections that hold the person and are not told, with why */
  not_deleted: { connection: string; reason: string }[];
  wiped?: WipeCounts;
  dry_run: boolean;
}

async function holders(db: Knex, memberId: string): Promise<string[]> {
  const { rows } = await db.raw(
    `select connection from push_state where member_id = ? and remote_id is not null and status <> 'deleted'
     union select connection from member_links where member_id = ? order by 1`,
    [memberId, memberId],
  );
  return (rows as { connection: string }[]).map((r) => r.connection);
}

export async function eraseMember(key: string, opts: EraseOptions): Promise<EraseSummary> {
  const m = await oneMember(opts.db, key);
  if (m.status === 'erased' && (await opts.db('erasures').where({ member_id: m.id }).first())) throw new InputError(`member ${m.id} is erased already`);
  const at = await holders(opts.db, m.id);
  const s: EraseSummary = { run_id: null, member_id: m.id, delete_at: [], not_deleted: [], dry_run: !opts.yes };
  for (const c of at) {
    const conn = opts.config.connections[c];
    if (!conn) s.not_deleted.push({ connection: c, reason: 'not in this config' });
    else if (!conn.push?.deletes) s.not_deleted.push({ connection: c, reason: 'push.deletes is off' });
    else if (!connectorFor(conn.kind).deleteMembers) s.not_deleted.push({ connection: c, reason: `a ${conn.kind} connection has no delete` });
    else s.delete_at.push(c);
  }
  if (!opts.yes) return s;
  const by = opts.by ?? 'hand';
  const runId = await createRun(opts.db, { kind: 'erase', source: `member:${m.id}`, details: { member_id: m.id } });
  s.run_id = runId;
  try {
    if (m.status !== 'erased') {
      await opts.db.transaction(async (trx) => {
        await takeIngestLock(trx);
        await trx('members').where({ id: m.id }).update({ status: 'erased', removed_at: trx.fn.now(), removed_reason: null, removed_by: by });
        await logStatusChanges(trx, runId, { source: 'erase', ref: null, rule: 'erase' }, [{ member_id: m.id, old: m.status as MemberStatus, new: 'erased' }]);
      });
    }
    const failures: string[] = [];
    for (const c of s.delete_at) {
      const ctx = connectionContext(c, opts.config, opts.log);
      const rows = await listDeleteRows(opts.db, c, [m.id]);
      if (rows.length === 0) continue;
      const d = await sendDeletes(opts.db, ctx, connectorFor(ctx.config.kind), runId, rows);
      if (d.failed > 0) failures.push(`${c}: ${d.firstError}`);
    }
    if (failures.length > 0) {
      throw new InputError(`could not delete the person at ${failures.join('; ')}; nothing was wiped yet (the remote ids are needed to delete): fix that, then run members erase again`);
    }
    const hmac = await erasureKey(opts.db);
    s.wiped = await opts.db.transaction(async (trx) => {
      await takeIngestLock(trx);
      const { identities, values } = await identityOf(trx, m.id);
      const counts = await wipePerson(trx, m.id, runId, by, identities.map((i) => keyedHash(hmac, i)), values);
      await addRunCounts(trx, runId, { rows: 1, updated: 1 });
      return counts;
    });
    await finishRun(opts.db, runId, 'succeeded', { details: { member_id: m.id, deleted_at: s.delete_at, not_deleted: s.not_deleted, wiped: s.wiped } });
  } catch (err) {
    await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
  opts.log.info({ run: runId, member: m.id, deletedAt: s.delete_at }, 'member erased');
  return { ...s, dry_run: false };
}
