/**
 * Push one connection: page through the members, map each to the connection's payload,
 * send only those whose payload hash differs from push_state, and record each batch as
 * soon as it is sent. A push is a run (kind 'push', source = the connection).
 *
 * Idempotence: the remote id (push_state, else the newest link) makes a re-push an
 * update; a member with none is found by the connector through the system's own lookup
 * (Convio cons_id/member_id/email, IKANOW e-mail, Vocdoni memberNumber), so a push cut
 * short anywhere and run again creates no duplicate remote record.
 *
 * Counts: every member looked at is `unchanged` or `selected`; every selected one ends
 * `created`, `updated`, `failed` or `skipped` (a dry run plans created/updated only).
 *
 * Status: a run succeeds when every selected member was delivered or refused for good
 * (4xx, remote validation: recorded, `failed`, and trying again would not help). It fails
 * when it stopped early (interrupted, a long Retry-After, or `maxConsecutiveFailures`
 * transient failures in a row) or left members `pending` after their HTTP retries: the
 * work is not done, and the next push sends just those members.
 *
 * A ConnectionError (credentials refused, a host that does not resolve, TLS, answers that
 * are not the system's) is no member's failure: the push stops at once, records the
 * members already delivered, fails the run with the reason and throws it (never retried).
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { connectorFor } from '../connectors/registry.js';
import { BusyError, describeError, InputError } from '../errors.js';
import type { Logger } from '../log.js';
import { iteratePushRows, lockConnectionForPush, writePushBatch, type PushRecord } from '../store/push-repo.js';
import { addRunCounts, createRun, finishRun } from '../store/runs-repo.js';
import { connectionContext } from './pull.js';
import { decidePush, memberLabel, type FieldDiff, type ToRemote } from './push-plan.js';
import { prepareJobs, type PreparedJobs } from './push-bulk.js';
import { planDeletes, sendDeletes } from './push-deletes.js';
import { FailureStreak, recordOf, sendBatch, type SendJob } from './push-send.js';

export interface PushOptions {
  db: Knex;
  config: Readonly<Config>;
  log: Logger;
  /** plan only: no request, nothing written */
  dryRun?: boolean;
  /** send members whose last push failed permanently even if they did not change */
  retryFailed?: boolean;
  /** send at most this many members */
  limit?: number;
  /** members of these statuses are sent @defaultValue ['active'] */
  statuses?: readonly string[];
  /** delete more than push.maxDeletes (push.deletes) */
  allowMassDelete?: boolean;
  parentRunId?: number;
  /** graceful stop: no new member is started, the ones in flight finish and are recorded */
  stop?: AbortSignal;
  /** hard stop: also cuts the requests in flight (their members are sent again next push) */
  signal?: AbortSignal;
  /** members read per query @defaultValue 500 */
  pageSize?: number;
  /** members sent per recorded batch @defaultValue 100 */
  batchSize?: number;
  /**
   * transient failures in a row (each after its HTTP retries) that stop the push: the
   * destination is taken for down and the rest wait for the next push; 0 = never stop
   * @defaultValue 20
   */
  maxConsecutiveFailures?: number;
  /** every selected member, before it is sent (with it, the field-by-field changes are worked out) */
  onPlan?(entry: PlanEntry): void;
  /** after each member is sent */
  onSent?(done: number): void;
}

export interface PlanEntry {
  member_id: string;
  member: string;
  action: 'create' | 'update' | 'skip' | 'delete';
  remote_id?: string;
  reason?: string;
  changes?: FieldDiff[];
}

export interface PushSummary {
  run_id: number | null;
  connection: string;
  selected: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  skipped: number;
  requests: number;
  dry_run: boolean;
  /** failed permanently before and unchanged since: not sent (see --retry-failed) */
  held_failed: number;
  /** of `unchanged`: skipped before for the same reason, still not sendable */
  held_skipped: number;
  /** why members were skipped (this push's and the held ones), with how many each */
  skip_reasons: Record<string, number>;
  /** of `failed`: members a transient error left undelivered (status pending); the next push sends them */
  pending: number;
  /** why the push stopped before the end, if it did */
  stopped?: string;
  /** when a Retry-After stopped the push: the wait the remote asked for */
  retry_after_ms?: number;
  /** why the run failed (stopped early, members left pending, too many deletes); unset when it succeeded */
  error?: string;
  /** push.deletes: removed or erased members deleted there (planned, on a dry run), and those that failed */
  deleted: number;
  delete_failed: number;
  /** the mass-delete guard stopped the push (also in `error`): nothing was deleted or sent */
  deletes_blocked?: string;
}

/** The run's failure reason: it stopped early, or left members undelivered. */
function runError(s: PushSummary, firstPending: string | undefined): string | undefined {
  const undelivered = s.pending > 0 ? `${s.pending} of ${s.selected} member(s) not delivered (first error: ${firstPending})` : undefined;
  if (s.stopped && undelivered) return `${s.stopped}; ${undelivered}`;
  return s.stopped ?? undelivered;
}

export async function pushConnection(name: string, opts: PushOptions): Promise<PushSummary> {
  const ctx = connectionContext(name, opts.config, opts.log, opts.signal);
  const connector = connectorFor(ctx.config.kind);
  if (!connector.push || !connector.toRemote) throw new InputError(`connection '${name}' is a ${ctx.config.kind} connection, which member-sync does not push to`);
  const options = connector.optionsSchema.parse(ctx.config.options ?? {});
  const toRemote: ToRemote = (m, remote) => connector.toRemote!(m, options, remote);
  const push = connector.push.bind(connector);
  const prepareBatch = connector.prepareBatch?.bind(connector);
  const dry = Boolean(opts.dryRun);
  const release = dry ? undefined : await lockConnectionForPush(opts.db, name);
  if (!dry && !release) throw new BusyError(`connection '${name}' is being pushed by another process; try again when it is done`);
  let runId = 0;
  try {
    runId = dry ? 0 : await createRun(opts.db, { kind: 'push', source: name, parentRunId: opts.parentRunId, details: { retry_failed: Boolean(opts.retryFailed), limit: opts.limit ?? null } });
  } catch (err) {
    await release?.();
    throw err;
  }
  const log = ctx.log.child({ run: runId || undefined });
  const s: PushSummary = { run_id: dry ? null : runId, connection: name, selected: 0, created: 0, updated: 0, unchanged: 0, failed: 0, skipped: 0, requests: 0, dry_run: dry, held_failed: 0, held_skipped: 0, skip_reasons: {}, pending: 0, deleted: 0, delete_failed: 0 };
  const skipReason = (reason: string): void => {
    s.skip_reasons[reason] = (s.skip_reasons[reason] ?? 0) + 1;
  };
  const batchSize = opts.batchSize ?? 100;
  const streak = new FailureStreak(opts.maxConsecutiveFailures ?? 20);
  let firstPending: string | undefined;
  let broken: Error | undefined;
  let sent = 0;
  log.info({ dryRun: dry }, 'push started');

  // A batch is recorded while the next one is being sent (one write at a time, in order),
  // so the sending never waits for the database. A failed write fails the push at the
  // next batch or at the end.
  let writing: Promise<void> = Promise.resolve();
  let writeError: { err: unknown } | undefined;
  function record(records: PushRecord[], counts: { rows: number; created: number; updated: number }): void {
    writing = writing
      .then(() =>
        writeError
          ? undefined
          : opts.db.transaction(async (trx) => {
              await writePushBatch(trx, name, runId, records);
              await addRunCounts(trx, runId, counts);
            }),
      )
      .catch((err: unknown) => {
        writeError ??= { err };
      });
  }
  async function recorded(): Promise<void> {
    await writing;
    if (writeError) throw writeError.err;
  }

  async function flush(jobs: SendJob[], skips: PushRecord[], seen: number): Promise<void> {
    if (writeError) throw writeError.err;
    // a connector's bulk step (Vocdoni: one list read, one bulk add) settles some members here
    const bulk: PreparedJobs = s.stopped || !prepareBatch ? { done: [], send: jobs, requests: 0 } : await prepareJobs(jobs, (items) => prepareBatch(ctx, items), streak);
    s.requests += bulk.requests;
    for (let i = 0; i < bulk.done.length; i++) opts.onSent?.(++sent);
    // once a push has stopped (Retry-After too long, the destination down), members still queued wait for the next push
    const { outcomes: sentOutcomes, halt: sendHalt } = await sendBatch(s.stopped || bulk.halt ? [] : bulk.send, {
      concurrency: ctx.config.rateLimit.concurrency,
      // ctx, not the run's child logger: the HTTP client a connector caches keeps the first logger it sees
      push: (j) => push(ctx, { member: j.member, remoteId: j.remoteId, payload: j.payload }),
      streak,
      signal: opts.signal,
      stop: opts.stop,
      onSent: () => opts.onSent?.(++sent),
    });
    const outcomes = [...bulk.done, ...sentOutcomes];
    const halt = bulk.halt ?? sendHalt;
    const records = [...skips];
    let created = 0;
    let updated = 0;
    for (const o of outcomes) {
      s.requests += o.result?.requests ?? 0;
      const rec = recordOf(o);
      if (!rec) continue;
      records.push(rec);
      const r = o.result!;
      if (!r.success) {
        s.failed++;
        if (rec.status === 'pending') {
          s.pending++;
          firstPending ??= rec.error?.message;
        }
      } else if (r.action === 'skipped') {
        s.skipped++;
        skipReason(r.reason);
      } else if (r.action === 'created') created++;
      else updated++;
    }
    s.created += created;
    s.updated += updated;
    s.skipped += skips.length;
    record(records, { rows: seen, created, updated });
    if (halt?.connection) broken ??= halt.connection;
    if (halt && !s.stopped) {
      s.stopped = halt.reason;
      if (halt.retryAfterMs !== undefined) s.retry_after_ms = halt.retryAfterMs;
    }
    if (opts.signal?.aborted || opts.stop?.aborted) s.stopped ??= 'interrupted; push again to continue';
  }

  try {
    let jobs: SendJob[] = [];
    let skips: PushRecord[] = [];
    let seen = 0;
    // removed and erased members first: deleted there, within the mass-delete guard
    if (ctx.config.push?.deletes && connector.deleteMembers) {
      const plan = await planDeletes(opts.db, name, ctx.config, { allowMassDelete: opts.allowMassDelete });
      for (const r of plan.rows) opts.onPlan?.({ member_id: r.memberId, member: memberLabel(r.member), action: 'delete', ...(r.remoteId ? { remote_id: r.remoteId } : {}), reason: r.status });
      if (plan.blocked) {
        s.deleted = dry ? plan.rows.length : 0;
        s.error = plan.blocked;
        s.deletes_blocked = plan.blocked;
        if (!dry) await finishRun(opts.db, runId, 'failed', { error: s.error, details: { deletes_planned: plan.rows.length, max_deletes: plan.max } });
        log.warn({ planned: plan.rows.length, max: plan.max }, 'push stopped: too many deletes');
        return s;
      }
      if (dry) s.deleted = plan.rows.length;
      else if (plan.rows.length > 0) {
        const d = await sendDeletes(opts.db, ctx, connector, runId, plan.rows);
        s.deleted = d.deleted;
        s.delete_failed = d.failed;
        s.requests += d.requests;
      }
    }
    // the field-by-field changes are for a plan; without one, neither read nor computed
    const planning = opts.onPlan !== undefined;
    pages: for await (const page of iteratePushRows(opts.db, name, opts.pageSize ?? 500, { withPayload: planning, statuses: opts.statuses })) {
      for (const row of page) {
        if (opts.limit !== undefined && s.selected >= opts.limit) break pages;
        if (s.stopped || opts.signal?.aborted || opts.stop?.aborted) break pages;
        seen++;
        const d = decidePush(row, toRemote, Boolean(opts.retryFailed), planning);
        if (d.kind === 'unchanged') {
          s.unchanged++;
          if (d.heldFailed) s.held_failed++;
          if (d.heldSkip !== undefined) {
            s.held_skipped++;
            skipReason(d.heldSkip);
          }
          continue;
        }
        s.selected++;
        if (d.kind === 'skip') {
          opts.onPlan?.({ member_id: row.member.id, member: memberLabel(row.member), action: 'skip', reason: d.reason });
          skipReason(d.reason);
          if (dry) s.skipped++;
          else skips.push({ memberId: row.member.id, hash: d.hash, status: 'skipped', error: { message: d.reason } });
        } else {
          opts.onPlan?.({ member_id: row.member.id, member: memberLabel(row.member), action: d.action, ...(d.remoteId ? { remote_id: d.remoteId } : {}), changes: d.changes ?? [] });
          if (dry && d.action === 'create') s.created++;
          else if (dry) s.updated++;
          else jobs.push({ memberId: row.member.id, member: row.member, hash: d.hash, payload: d.payload, remoteId: d.remoteId, linkId: row.linkId });
        }
        // skips count toward a batch too, so a long run of them is written as it goes
        if (!dry && jobs.length + skips.length >= batchSize) {
          await flush(jobs, skips, seen);
          [jobs, skips, seen] = [[], [], 0];
        }
      }
    }
    if (!dry && (jobs.length > 0 || skips.length > 0 || seen > 0)) await flush(jobs, skips, seen);
    await recorded();
    if (broken) throw broken;
    if (!dry) {
      s.error = runError(s, firstPending);
      const { run_id: _r, connection: _c, dry_run: _d, error: _e, ...counts } = s;
      await addRunCounts(opts.db, runId, { unchanged: s.unchanged });
      await finishRun(opts.db, runId, s.error ? 'failed' : 'succeeded', { error: s.error, details: counts });
    }
    // the logger carries the connection (and the run) already
    const { connection: _conn, run_id: _run, ...fields } = s;
    if (s.error) log.warn(fields, 'push failed');
    else log.info(fields, 'push finished');
    return s;
  } catch (err) {
    // the batches already sent are recorded before the run is closed
    await writing;
    if (!dry) await finishRun(opts.db, runId, 'failed', { error: describeError(err), details: { ...s } }).catch(() => undefined);
    throw err;
  } finally {
    await release?.();
  }
}
