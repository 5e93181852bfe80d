/**
 * PostgreSQL connections terminated mid-batch (pg_terminate_backend from a superuser
 * session, the way a failover or an admin kills them): the batch's transaction is rolled
 * back and the batch is retried, nothing is half-written, and the store ends exactly as
 * an undisturbed import leaves it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { isLostDatabaseSession, isRetryable } from '../../src/errors.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { checkRun } from '../helpers/accounting.js';
import { createTestDb, type TestDb } from '../helpers/db.js';

const FULL = process.env.MEMBER_SYNC_FAULTS === 'full';
const ROWS = FULL ? 20_000 : 6000;
const KILLS = FULL ? 6 : 3;
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-pgkill-'));
let db: TestDb;
let baseline: TestDb;
let admin: Knex;

beforeAll(async () => {
  [db, baseline] = await Promise.all([createTestDb(), createTestDb()]);
  admin = knexFactory({ client: 'pg', connection: inject('databaseUrl'), pool: { min: 0, max: 1 } });
});
afterAll(async () => {
  await admin?.destroy();
  await Promise.all([db?.drop(), baseline?.drop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** People, with a restated row, a conflict and a reject every so often. */
function people(): string {
  const rows = ['member_id,email,first_name,city'];
  for (let i = 0; i < ROWS; i++) {
    if (i % 97 === 5) rows.push(`K${i - 1},k${i - 1}@example.org,Again${i},Nantes`); // restates the row before: updated
    else if (i % 89 === 7) rows.push(`K${i},k${i - 2}@example.org,Clash${i},Lyon`); // another's e-mail: conflict
    else if (i % 83 === 3) rows.push(`K${i},not-an-email,Bad${i},Lyon`); // rejected
    else rows.push(`K${i},k${i}@example.org,Kim${i},Lyon`);
  }
  return rows.join('\n') + '\n';
}

const snapshot = (d: TestDb) => d.knex('members').orderBy('member_id').select('member_id', 'email', 'first_name', 'city', 'weight');

/**
 * Terminates member-sync's session while it is inside a batch's transaction (one running
 * ingest's statements: the batch lock, the key lookups, COPY, the updates), at most once
 * per committed batch, `max` times in all.
 */
function startKiller(max: number): { kills: () => number; stop: () => Promise<void> } {
  let kills = 0;
  let done = false;
  let lastRows = -1;
  const loop = (async () => {
    while (!done && kills < max) {
      const progress = await db.knex('runs').max('rows as rows').first().catch(() => undefined);
      const rows = Number(progress?.rows ?? 0);
      if (rows > lastRows && rows > 0) {
        const { rows: hit } = await admin.raw(
          `select pg_terminate_backend(pid) as ok from pg_stat_activity
            where datname = ? and application_name = 'member-sync' and pid <> pg_backend_pid()
              and xact_start is not null
              and query ilike any (array['%pg_advisory_xact_lock%', '%COPY %', '%json_populate_recordset%', '%json_to_recordset%', '%from members m%', '%"runs" set "rows"%'])`,
          [db.name],
        );
        if (hit.some((h: { ok: boolean }) => h.ok)) {
          kills++;
          lastRows = rows;
        }
      }
      await new Promise((r) => setTimeout(r, 3 + Math.floor(Math.random() * 15)));
    }
  })();
  return {
    kills: () => kills,
    stop: async () => {
      done = true;
      await loop;
    },
  };
}

async function reset(d: TestDb): Promise<void> {
  await d.knex.raw('truncate members, source_records, source_record_history, ingest_batches, member_links, member_changes, conflicts, rejects, imported_files, checkpoints, push_state, push_errors, runs restart identity cascade');
}

describe('PostgreSQL connections terminated mid-batch', () => {
  const file = path.join(dir, 'people.csv');
  const config = loadConfig({ env: {}, overrides: { import: { batchSize: 200 } } });
  const quiet = log.child({}, { level: 'fatal' });
  let clean: Awaited<ReturnType<typeof importFile>>;

  beforeAll(async () => {
    writeFileSync(file, people());
    clean = await importFile(file, { db: baseline.knex, config, log: quiet });
  });

  it('rolls the batch back whole; taken again (as the worker retries a job), the import ends with the store of an undisturbed one', { timeout: 180_000 }, async () => {
    await reset(db);
    const killer = startKiller(KILLS);
    const runs: number[] = [];
    let summary: Awaited<ReturnType<typeof importFile>> | undefined;
    try {
      for (let attempt = 1; attempt <= KILLS + 1 && !summary; attempt++) {
        try {
          summary = await importFile(file, { db: db.knex, config, log: quiet });
        } catch (err) {
          // a lost session, reported as such; the run is marked failed
          expect((err as Error).message).toMatch(/connection|terminat|EPIPE|ECONNRESET/i);
        }
        const last = await db.knex('runs').orderBy('id', 'desc').first();
        runs.push(last.id);
        if (!summary) {
          expect(last.status).toBe('failed');
          // nothing half-written: what the failed run counted is exactly what it committed
          const { run } = await checkRun(db.knex, last.id);
          expect(await db.knex('member_changes').where({ run_id: run.id, field: '_created' }).count({ n: '*' }).first()).toEqual({ n: run.created });
          expect(await db.knex('conflicts').where({ run_id: run.id }).count({ n: '*' }).first()).toEqual({ n: run.conflicts });
        }
      }
    } finally {
      await killer.stop();
    }
    expect(killer.kills()).toBeGreaterThan(0);
    expect(summary).toBeDefined();
    const { run } = await checkRun(db.knex, summary!.run_id!, summary);
    expect(run).toMatchObject({ status: 'succeeded', rows: ROWS });
    // rows the failed runs had committed come out unchanged; conflicts and rejects recur alike
    expect(summary!.created + summary!.updated + summary!.unchanged).toBe(clean.created + clean.updated + clean.unchanged);
    expect([summary!.conflicts, summary!.rejected]).toEqual([clean.conflicts, clean.rejected]);
    // one creation entry per member: no member was written twice
    expect(await db.knex('member_changes').where({ field: '_created' }).count({ n: '*' }).first()).toEqual(await db.knex('members').count({ n: '*' }).first());
    expect(await snapshot(db)).toEqual(await snapshot(baseline));
  });

  it('retries a batch whose session was terminated in place: one import, the store of an undisturbed one', { timeout: 180_000 }, async () => {
    await reset(db);
    const killer = startKiller(KILLS);
    let summary: Awaited<ReturnType<typeof importFile>>;
    try {
      summary = await importFile(file, { db: db.knex, config, log: quiet });
    } finally {
      await killer.stop();
    }
    expect(killer.kills()).toBeGreaterThan(0);
    const { run } = await checkRun(db.knex, summary.run_id!, summary);
    expect(run).toMatchObject({ status: 'succeeded', rows: ROWS });
    expect(await db.knex('runs').count({ n: '*' }).first()).toEqual({ n: 1 });
    expect([summary.created, summary.updated, summary.unchanged, summary.conflicts, summary.rejected]).toEqual([clean.created, clean.updated, clean.unchanged, clean.conflicts, clean.rejected]);
    expect(await db.knex('member_changes').where({ field: '_created' }).count({ n: '*' }).first()).toEqual(await db.knex('members').count({ n: '*' }).first());
    expect(await snapshot(db)).toEqual(await snapshot(baseline));
  });

  /** The error a statement gets once its session was terminated under an open transaction. */
  async function lostSessionError(): Promise<unknown> {
    const victim = knexFactory({ client: 'pg', connection: { connectionString: db.url, application_name: 'ms-victim' }, pool: { min: 0, max: 1 } });
    const err = await victim
      .transaction(async (trx) => {
        await trx.raw('select 1');
        await admin.raw(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'ms-victim'`);
        // let the client notice, as it does when the next statement comes a moment later
        await new Promise((r) => setTimeout(r, 200));
        await trx.raw('select 2');
      })
      .catch((e: unknown) => e);
    await victim.destroy();
    return err;
  }

  it('the worker takes a job whose database session was terminated again (retry with backoff, not failed for good)', async () => {
    const err = await lostSessionError();
    expect((err as Error).message).toMatch(/Client has encountered a connection error and is not queryable|Connection terminated unexpectedly/);
    // processor.ts: transient = isRetryable, which knows a lost session by its message
    expect(isLostDatabaseSession(err)).toBe(true);
    expect(isLostDatabaseSession(new Error('duplicate key value violates unique constraint "members_email_key"'))).toBe(false);
  });

  it('isRetryable knows a lost session, so that ingest retries the batch in place', async () => {
    expect(isRetryable(await lostSessionError())).toBe(true);
  });
});
