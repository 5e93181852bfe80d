/**
 * Deletes at a connection (`push.deletes`, DESIGN.md "Lifecycle"): which removed or erased
 * members it still holds, how many people it holds at all (the mass-delete guard), and the
 * record of each delete (push_state status `deleted`; a remote record that is gone loses its
 * id and link, so a member active again is found or created afresh).
 */
import type { Knex } from 'knex';
import type { Member } from '../types.js';
import { rowToMember } from './member-rows.js';
import { takeIngestLock } from './members-repo.js';

type Db = Knex | Knex.Transaction;

export interface DeleteRow {
  memberId: string;
  status: string;
  remoteId?: string;
  member: Member;
  payload: Record<string, unknown> | null;
}

/**
 * Members not active that the connection holds (a remote id in push_state, or a link) and
 * that no delete reached yet; not those the connection itself no longer lists (a complete
 * pull found their record gone there). `memberIds` narrows it (an erasure).
 */
export async function listDeleteRows(db: Db, connection: string, memberIds?: string[]): Promise<DeleteRow[]> {
  const { rows } = await db.raw(
    `select m.*, ps.payload as _ps_payload,
            coalesce(ps.remote_id, (select l.external_id from member_links l where l.member_id = m.id and l.connection = ? order by l.created_at desc limit 1)) as _remote_id
       from members m left join push_state ps on ps.connection = ? and ps.member_id = m.id
      where m.status <> 'active' and ps.status is distinct from 'deleted'
        and (ps.remote_id is not null or exists (select 1 from member_links l where l.member_id = m.id and l.connection = ?))
        and not exists (select 1 from source_records s where s.member_id = m.id and s.source = ? and s.removed_at is not null)
        ${memberIds ? 'and m.id = any(?::uuid[])' : ''}
      order by m.id`,
    [connection, connection, connection, connection, ...(memberIds ? [memberIds] : [])],
  );
  return (rows as Record<string, unknown>[]).map((r) => ({
    memberId: r.id as string,
    status: r.status as string,
    remoteId: (r._remote_id as string | null) ?? undefined,
    member: rowToMember(r),
    payload: (r._ps_payload as Record<string, unknown> | null) ?? null,
  }));
}

/** People the connection holds: members with a remote id there (push_state) or a link. */
export async function heldAt(db: Db, connection: string): Promise<number> {
  const { rows } = await db.raw(
    `select count(*)::int as n from (
       select member_id from push_state where connection = ? and remote_id is not null and status <> 'deleted'
       union select member_id from member_links where connection = ?) x`,
    [connection, connection],
  );
  return Number(rows[0].n);
}

export interface DeleteOutcome {
  memberId: string;
  remoteId?: string;
  ok: boolean;
  /** the remote record no longer exists */
  gone?: boolean;
  error?: { message: string; kind?: string; httpStatus?: number; remoteCode?: string };
}

const json = (v: unknown) => JSON.stringify(v).replace(/\\u0000/g, '\\ufffd');

/** Record a batch of deletes: push_state `deleted`, the links of gone records removed, failures in push_errors. */
export async function recordDeletes(trx: Knex.Transaction, connection: string, runId: number, outcomes: DeleteOutcome[]): Promise<void> {
  const done = outcomes.filter((o) => o.ok);
  if (done.length > 0) {
    await trx.raw(
      `insert into push_state (connection, member_id, remote_id, hash, status, last_error, error_code, payload, attempts, run_id, updated_at)
       select ?, x.member_id, x.remote_id, null, 'deleted', null, null, null, 0, ?, now() from json_to_recordset(?::json) as x(member_id uuid, remote_id text)
       on conflict (connection, member_id) do update set remote_id = excluded.remote_id, hash = null, status = 'deleted', last_error = null,
          error_code = null, payload = null, attempts = 0, run_id = excluded.run_id, updated_at = now()`,
      [connection, runId, json(done.map((o) => ({ member_id: o.memberId, remote_id: o.gone ? null : (o.remoteId ?? null) })))],
    );
    const gone = done.filter((o) => o.gone && o.remoteId);
    if (gone.length > 0) {
      // links are written under the members lock, like every writer of members and links
      await takeIngestLock(trx);
      await trx.raw(
        `delete from member_links l using json_to_recordset(?::json) as x(member_id uuid, external_id text)
          where l.connection = ? and l.member_id = x.member_id and l.external_id = x.external_id`,
        [json(gone.map((o) => ({ member_id: o.memberId, external_id: o.remoteId }))), connection],
      );
    }
  }
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length > 0) {
    await trx.raw(
      `insert into push_errors (run_id, connection, member_id, status, kind, http_status, remote_code, message)
       select ?, ?, x.member_id, 'failed', x.kind, x.http_status, x.remote_code, x.message
         from json_to_recordset(?::json) as x(member_id uuid, kind text, http_status int, remote_code text, message text)`,
      [runId, connection, json(failed.map((o) => ({ member_id: o.memberId, kind: o.error?.kind ?? null, http_status: o.error?.httpStatus ?? null, remote_code: o.error?.remoteCode ?? null, message: `delete: ${o.error?.message ?? ''}` })))],
    );
  }
}
