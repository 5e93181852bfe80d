/**
 * The deletes of a push (`push.deletes: true`): removed and erased members the connection
 * holds are deleted there by the system's own call (the connector's deleteMembers). A push
 * never deletes more than `push.maxDeletes` (default 5% of the people the connection
 * holds, at least 10) without `--allow-mass-delete`: past it, nothing is deleted and the
 * push fails with the reason, so an emptied store or export cannot wipe a destination.
 */
import type { Knex } from 'knex';
import type { ConnectionConfig } from '../config/schema.js';
import type { Connector, ConnectorContext } from '../connectors/types.js';
import { UpstreamError } from '../errors.js';
import { heldAt, listDeleteRows, recordDeletes, type DeleteOutcome, type DeleteRow } from '../store/delete-repo.js';

export interface DeletePlan {
  rows: DeleteRow[];
  /** people the connection holds */
  held: number;
  max: number;
  /** why the deletes may not go ahead (the mass-delete guard) */
  blocked?: string;
}

export function maxDeletesFor(conn: ConnectionConfig, held: number): number {
  return conn.push?.maxDeletes ?? Math.max(10, Math.ceil(held * 0.05));
}

export async function planDeletes(db: Knex, name: string, conn: ConnectionConfig, opts: { allowMassDelete?: boolean; memberIds?: string[] } = {}): Promise<DeletePlan> {
  const rows = await listDeleteRows(db, name, opts.memberIds);
  const held = await heldAt(db, name);
  const max = maxDeletesFor(conn, held);
  const plan: DeletePlan = { rows, held, max };
  if (rows.length > max && !opts.allowMassDelete) {
    const limit = conn.push?.maxDeletes !== undefined ? `push.maxDeletes ${max}` : `push.maxDeletes (${max}: 5% of the ${held} people it holds, at least 10)`;
    plan.blocked =
      `${rows.length} deletes planned at ${name}, more than ${limit}; nothing was deleted or sent. ` +
      `See who would go with member-sync members export --status removed,erased (and push --dry-run), then push with --allow-mass-delete if that is right`;
  }
  return plan;
}

function errorOf(err: Error): DeleteOutcome['error'] {
  if (err instanceof UpstreamError) return { message: err.message, kind: err.kind, httpStatus: err.status, remoteCode: err.remoteCode };
  return { message: err.message };
}

/** Delete the planned members, a batch at a time, each batch recorded as soon as it is done. */
export async function sendDeletes(
  db: Knex,
  ctx: ConnectorContext,
  connector: Connector,
  runId: number,
  rows: DeleteRow[],
  batchSize = 100,
): Promise<{ deleted: number; failed: number; requests: number; firstError?: string; outcomes: DeleteOutcome[] }> {
  const out = { deleted: 0, failed: 0, requests: 0, firstError: undefined as string | undefined, outcomes: [] as DeleteOutcome[] };
  for (let i = 0; i < rows.length; i += batchSize) {
    const batch = rows.slice(i, i + batchSize);
    const results = await connector.deleteMembers!(
      ctx,
      batch.map((r) => ({ memberId: r.memberId, remoteId: r.remoteId, member: r.member, payload: r.payload })),
    );
    const outcomes = batch.map((r, k): DeleteOutcome => {
      const res = results[k];
      out.requests += res.requests;
      if (res.success) {
        out.deleted++;
        return { memberId: r.memberId, remoteId: r.remoteId, ok: true, gone: res.gone };
      }
      out.failed++;
      out.firstError ??= res.error.message;
      return { memberId: r.memberId, remoteId: r.remoteId, ok: false, error: errorOf(res.error) };
    });
    if (runId > 0) await db.transaction((trx) => recordDeletes(trx, ctx.name, runId, outcomes));
    out.outcomes.push(...outcomes);
  }
  return out;
}
