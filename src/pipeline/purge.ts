/**
 * `member-sync purge` and the worker's daily retention: apply `retention.*` once, as a run
 * (kind 'purge', its counts in the details). Two processes purging at once is harmless
 * (the statements are idempotent); one advisory lock keeps them from doing it twice.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { purgeOld, retentionConfigured, type PurgeCounts } from '../store/retention-repo.js';
import { createRun, finishRun } from '../store/runs-repo.js';

export interface PurgeSummary extends PurgeCounts {
  run_id: number | null;
  dry_run: boolean;
  /** no retention.* setting: nothing to do */
  configured: boolean;
  /** another process was purging */
  busy?: boolean;
}

const PURGE_LOCK = 727014;

export async function purge(opts: { db: Knex; config: Readonly<Config>; log: Logger; dryRun?: boolean }): Promise<PurgeSummary> {
  const r = opts.config.retention;
  const dry = Boolean(opts.dryRun);
  const base = { run_id: null, dry_run: dry, configured: retentionConfigured(r), rejects: 0, conflicts: 0, change_values: 0 };
  if (!base.configured) return base;
  if (dry) return { ...base, ...(await purgeOld(opts.db, r, true)) };
  const runId = await createRun(opts.db, { kind: 'purge', details: { retention: r } });
  try {
    const counts = await opts.db.transaction(async (trx) => {
      const { rows } = await trx.raw('select pg_try_advisory_xact_lock(?) as ok', [PURGE_LOCK]);
      if (!rows[0].ok) return undefined;
      return purgeOld(trx, r);
    });
    await finishRun(opts.db, runId, 'succeeded', { details: counts ? { ...counts } : { busy: true } });
    opts.log.info({ run: runId, ...counts }, counts ? 'retention applied' : 'another process is applying retention');
    return { ...base, run_id: runId, ...(counts ?? {}), ...(counts ? {} : { busy: true }) };
  } catch (err) {
    await finishRun(opts.db, runId, 'failed', { error: describeError(err) }).catch(() => undefined);
    throw err;
  }
}

/**
 * The worker's retention: at start, then every `everyMs` (a day), while `signal` is not
 * aborted. Failures are logged, not fatal. Returns a stop function.
 */
export function scheduleRetention(opts: { db: Knex; config: Readonly<Config>; log: Logger; everyMs?: number }): () => void {
  if (!retentionConfigured(opts.config.retention)) return () => undefined;
  const tick = () => {
    purge(opts).catch((err: unknown) => opts.log.warn({ err: describeError(err) }, 'retention could not be applied; trying again in a day'));
  };
  tick();
  const timer = setInterval(tick, opts.everyMs ?? 86_400_000);
  timer.unref();
  return () => clearInterval(timer);
}
