/**
 * Set-based reads and writes of a push: members a page at a time with their push_state
 * and newest link at the connection (one query per page), and the outcome of a batch
 * of sends (one statement per table).
 */
import { takeIngestLock } from './members-repo.js';
import type { Knex } from 'knex';
import { MEMBER_FIELDS, type Member } from '../types.js';
import { rowToMember } from './member-rows.js';

export interface PushStateView {
  remoteId: string | null;
  hash: string | null;
  status: 'ok' | 'failed' | 'pending' | 'skipped';
  payload: Record<string, unknown> | null;
}

export interface PushRow {
  member: Member;
  state?: PushStateView;
  /** the newest link at the connection; read only when `state` has no remote id */
  linkId?: string;
}

const PUSH_MEMBER_COLUMNS = ['id', ...MEMBER_FIELDS].map((c) => `m.${c}`).join(', ');

/**
 * Members of these statuses (default: active) in id order with their state at `connection`, a page per query (keyset on
 * members.id; the next page is read while the caller works on this one); bounded memory.
 * Only what a push decides on is read: the member's fields (not its provenance), the
 * push_state row, and — only for a member whose push_state holds no remote id — its
 * newest link (a lookup by the member_links (member_id, connection, created_at) index).
 * `withPayload` also reads the payload last sent, for a plan's field-by-field diff.
 */
export async function* iteratePushRows(db: Knex, connection: string, pageSize: number, opts: { withPayload?: boolean; statuses?: readonly string[] } = {}): AsyncGenerator<PushRow[]> {
  const statuses = [...(opts.statuses ?? ['active'])];
  const sql = `select ${PUSH_MEMBER_COLUMNS}, ps.remote_id as _ps_remote_id, ps.hash as _ps_hash, ps.status as _ps_status,
       ${opts.withPayload ? 'ps.payload' : 'null'} as _ps_payload,
       case when ps.remote_id is null then
         (select l.external_id from member_links l where l.member_id = m.id and l.connection = ? order by l.created_at desc limit 1)
       end as _link_id
     from members m left join push_state ps on ps.connection = ? and ps.member_id = m.id
     where m.id > ? and m.status = any(?::text[]) order by m.id limit ?`;
  const read = (after: string): Promise<Record<string, unknown>[]> => {
    const rows = db.raw(sql, [connection, connection, after, statuses, pageSize]).then((r: { rows: Record<string, unknown>[] }) => r.rows);
    // read ahead: a failure surfaces when the page is awaited, not as an unhandled rejection meanwhile
    rows.catch(() => undefined);
    return rows;
  };
  let next = read('00000000-0000-0000-0000-000000000000');
  for (;;) {
    const rows = await next;
    if (rows.length === 0) return;
    // a short page is the last one: no need to ask again
    next = rows.length < pageSize ? Promise.resolve([]) : read(rows[rows.length - 1].id as string);
    yield rows.map(
      (r): PushRow => ({
        member: rowToMember(r),
        state: r._ps_status
          ? { remoteId: (r._ps_remote_id as string) ?? null, hash: (r._ps_hash as string) ?? null, status: r._ps_status as PushStateView['status'], payload: (r._ps_payload as Record<string, unknown>) ?? null }
          : undefined,
        linkId: (r._link_id as string) ?? undefined,
      }),
    );
  }
}

export interface PushRecord {
  memberId: string;
  status: PushStateView['status'];
  hash: string;
  remoteId?: string;
  /** the payload the remote now holds (ok only) */
  payload?: Record<string, unknown>;
  error?: { message: string; kind?: string; httpStatus?: number; remoteCode?: string };
  /** a remote id learned by this push: becomes a link */
  newLink?: string;
}

const json = (v: unknown) => JSON.stringify(v).replace(/\\u0000/g, '\\ufffd');

/** Record one batch of sends. Call inside a transaction. */
export async function writePushBatch(trx: Knex.Transaction, connection: string, runId: number, records: PushRecord[]): Promise<void> {
  if (records.length === 0) return;
  // payload keeps what the remote last accepted; attempts counts failures since the last success
  await trx.raw(
    `insert into push_state (connection, member_id, remote_id, hash, status, last_error, error_code, payload, attempts, run_id, updated_at)
     select ?, x.member_id, x.remote_id, x.hash, x.status, x.last_error, x.error_code, x.payload,
            case when x.status in ('failed', 'pending') then 1 else 0 end, ?, now()
     from json_to_recordset(?::json) as x(member_id uuid, remote_id text, hash text, status text, last_error text, error_code text, payload jsonb)
     on conflict (connection, member_id) do update set
       remote_id = coalesce(excluded.remote_id, push_state.remote_id),
       hash = excluded.hash,
       status = excluded.status,
       last_error = excluded.last_error,
       error_code = excluded.error_code,
       payload = coalesce(excluded.payload, push_state.payload),
       attempts = case when excluded.status in ('failed', 'pending') then push_state.attempts + 1 else 0 end,
       run_id = excluded.run_id,
       updated_at = now()`,
    [
      connection,
      runId,
      json(
        records.map((r) => ({
          member_id: r.memberId,
          remote_id: r.remoteId ?? null,
          hash: r.hash,
          status: r.status,
          last_error: r.error?.message ?? null,
          error_code: r.error?.remoteCode ?? null,
          payload: r.status === 'ok' ? (r.payload ?? null) : null,
        })),
      ),
    ],
  );
  const links = records.filter((r) => r.newLink);
  if (links.length > 0) {
    // links are written under the members lock, like every writer of members and links,
    // so that an import or pull deciding the same people sees them or not, never half
    await takeIngestLock(trx);
    await trx.raw(
      `insert into member_links (connection, external_id, member_id, rule, run_id)
       select ?, x.external_id, x.member_id, 'push', ? from json_to_recordset(?::json) as x(external_id text, member_id uuid)
       on conflict (connection, external_id) do nothing`,
      [connection, runId, json(links.map((r) => ({ external_id: r.newLink, member_id: r.memberId })))],
    );
  }
  const failures = records.filter((r) => (r.status === 'failed' || r.status === 'pending') && r.error);
  if (failures.length > 0) {
    await trx.raw(
      `insert into push_errors (run_id, connection, member_id, status, kind, http_status, remote_code, message)
       select ?, ?, x.member_id, x.status, x.kind, x.http_status, x.remote_code, x.message
       from json_to_recordset(?::json) as x(member_id uuid, status text, kind text, http_status int, remote_code text, message text)`,
      [
        runId,
        connection,
        json(
          failures.map((r) => ({
            member_id: r.memberId,
            status: r.status,
            kind: r.error?.kind ?? null,
            http_status: r.error?.httpStatus ?? null,
            remote_code: r.error?.remoteCode ?? null,
            message: r.error?.message ?? '',
          })),
        ),
      ],
    );
  }
}

/** What a connection gave us for one of its records, as the payload it would be pushed. */
export interface PulledState {
  /** the record's external id at the connection (its link) */
  externalId: string;
  /** hash of the connection's push payload computed from the record as read */
  hash: string;
  payload: Record<string, unknown>;
}

/**
 * After a pull batch committed: the remote holds what we just read, so record it as what
 * the connection holds (push_state ok, remote id = the record's id), for the members the
 * records reached (their links). The next push then sends a member only when its payload
 * differs from what was read. One statement per batch.
 *
 * A push_state row is replaced only when it names the same remote id (or none), and not
 * when what was read is part of the payload last pushed (`@>`): a remote that shows less
 * than it holds (Vocdoni masks phones) must not make a member look changed after every pull.
 */
export async function recordPulledState(db: Knex, connection: string, runId: number | null, entries: PulledState[]): Promise<number> {
  if (entries.length === 0) return 0;
  const res: { rowCount: number } = await db.raw(
    `insert into push_state (connection, member_id, remote_id, hash, status, last_error, error_code, payload, attempts, run_id, updated_at)
     select distinct on (l.member_id) ?, l.member_id, x.external_id, x.hash, 'ok', null, null, x.payload, 0, ?, now()
     from json_to_recordset(?::json) as x(external_id text, hash text, payload jsonb)
     join member_links l on l.connection = ? and l.external_id = x.external_id
     order by l.member_id
     on conflict (connection, member_id) do update set
       remote_id = excluded.remote_id, hash = excluded.hash, status = 'ok', last_error = null, error_code = null,
       payload = excluded.payload, attempts = 0, run_id = excluded.run_id, updated_at = now()
     where (push_state.remote_id is null or push_state.remote_id = excluded.remote_id)
       and push_state.hash is distinct from excluded.hash
       and not (push_state.status = 'ok' and push_state.payload is not null and push_state.payload @> excluded.payload)`,
    [connection, runId, json(entries.map((e) => ({ external_id: e.externalId, hash: e.hash, payload: e.payload }))), connection],
  );
  return res.rowCount;
}

/**
 * Holds a session advisory lock on one connection for the length of a push, so two
 * processes never push to the same connection at once. Resolves to the release function,
 * or undefined when another process holds it.
 */
export async function lockConnectionForPush(db: Knex, connection: string): Promise<(() => Promise<void>) | undefined> {
  const conn = await db.client.acquireConnection();
  try {
    const { rows } = await db.raw('select pg_try_advisory_lock(727003, hashtext(?)) as ok', [connection]).connection(conn);
    if (!rows[0].ok) {
      await db.client.releaseConnection(conn);
      return undefined;
    }
  } catch (err) {
    await db.client.releaseConnection(conn);
    throw err;
  }
  return async () => {
    try {
      await db.raw('select pg_advisory_unlock(727003, hashtext(?))', [connection]).connection(conn);
    } finally {
      await db.client.releaseConnection(conn);
    }
  };
}

/** The failures a push run recorded, for `runs show`. */
export async function listPushErrors(db: Knex, runId: number, limit?: number) {
  const q = db('push_errors as e')
    .leftJoin('members as m', 'm.id', 'e.member_id')
    .select('e.*', 'm.member_id as member_key', 'm.email as member_email')
    .where('e.run_id', runId)
    .orderBy('e.id');
  if (limit) q.limit(limit);
  return q;
}

export async function countPushErrors(db: Knex, runId: number): Promise<number> {
  const row = await db('push_errors').where({ run_id: runId }).count<{ n: string }[]>({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
