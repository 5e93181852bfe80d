/**
 * A destination down for a whole run: the run (`member-sync run`, the worker's own code
 * for a job, and `member-sync push`) fails with the reason and exit code 1, every member
 * waits as pending with that reason, and the next run — the destination back — delivers
 * everything, once. After enough transient failures in a row the push stops sending.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { startConvioSimulator } from '../../src/connectors/convio/simulator.js';
import { log } from '../../src/log.js';
import { pushConnection } from '../../src/pipeline/push.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-down-'));
let db: TestDb;
let sim: Awaited<ReturnType<typeof startConvioSimulator>>;
let proxy: FaultProxy;
let env: Record<string, string>;

async function cli(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'error', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  db = await createTestDb();
  sim = await startConvioSimulator({ groupIds: [1001] });
  proxy = await startFaultProxy(sim.url);
  writeFileSync(
    path.join(dir, 'config.yaml'),
    [
      'connections:',
      '  crm:',
      '    kind: convio',
      `    baseUrl: ${proxy.url}`,
      '    timeoutMs: 500',
      '    rateLimit: { perSecond: 0, concurrency: 4 }',
      '    credentials: { apiKey: convio-sim-api-key, loginName: sim-admin, loginPassword: sim-admin-password }',
      '    options: { groupIds: [1001] }',
    ].join('\n'),
  );
  env = { DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: 'config.yaml' };
  const rows = Array.from({ length: 8 }, (_, i) => `D-${i},d${i}@example.org,Dee${i}`);
  writeFileSync(path.join(dir, 'people.csv'), ['member_id,email,first_name', ...rows].join('\n') + '\n');
  expect((await cli(['import', 'people.csv'])).code).toBe(0);
});
afterAll(async () => {
  await proxy?.close();
  await sim?.close();
  await db?.drop();
});

describe('a destination down for the whole run', () => {
  it('fails the run with the reason, keeps every member pending, and the next run delivers everything once', async () => {
    proxy.decide = () => 'refuse';
    const down = await cli(['run', '--steps', '[{push: crm}]', '--json']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^member-sync: crm: network: 8 of 8 member\(s\) not delivered \(push run \d+\); last error: network: ECONNRESET socket hang up\n$/);
    // the HTTP retries are bounded: 4 attempts a member
    expect(proxy.counts.refuse).toBe(8 * 4);
    const pending = await db.knex('push_state').where({ connection: 'crm' }).select('status', 'last_error');
    expect(pending).toHaveLength(8);
    for (const p of pending) expect(p).toEqual({ status: 'pending', last_error: 'crm: network: ECONNRESET socket hang up' });
    expect(sim.state.constituents.size).toBe(0);

    proxy.decide = () => 'pass';
    const up = await cli(['run', '--steps', '[{push: crm}]', '--json']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ results: [{ step: 'push', selected: 8, created: 8, failed: 0 }] });
    const members = [...sim.state.constituents.values()].map((c) => c.member_id).sort();
    expect(members).toEqual(Array.from({ length: 8 }, (_, i) => `D-${i}`));
    expect(await db.knex('push_state').where({ connection: 'crm', status: 'ok' }).count({ n: '*' }).first()).toEqual({ n: 8 });
    const again = await cli(['run', '--steps', '[{push: crm}]', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ results: [{ step: 'push', selected: 0, requests: 0 }] });
  });

  it('records the push run itself as failed, with the reason, and `member-sync push` exits 1', async () => {
    proxy.decide = () => 'refuse';
    writeFileSync(path.join(dir, 'more.csv'), 'member_id,email,first_name\nD-100,d100@example.org,New\n');
    await cli(['import', 'more.csv']);
    const r = await cli(['push', 'crm', '--json']);
    proxy.decide = () => 'pass';
    const last = await db.knex('runs').where({ kind: 'push' }).orderBy('id', 'desc').first();
    expect(r.code).toBe(1);
    expect(last).toMatchObject({ status: 'failed', error: '1 of 1 member(s) not delivered (first error: crm: network: ECONNRESET socket hang up)' });
    expect(JSON.parse(r.stdout)).toMatchObject({ run_id: last.id, selected: 1, failed: 1, error: last.error });
    expect(r.stderr).toBe(`member-sync: push crm failed: ${last.error}\n`);
    // the next push delivers it, and succeeds
    const up = await cli(['push', 'crm', '--json']);
    expect(up.code).toBe(0);
    expect(JSON.parse(up.stdout)).toMatchObject({ selected: 1, created: 1, failed: 0 });
    expect(JSON.parse(up.stdout).error).toBeUndefined();
    expect(await db.knex('runs').where({ id: JSON.parse(up.stdout).run_id }).first()).toMatchObject({ status: 'succeeded', error: null });
  });

  it('stops sending after maxConsecutiveFailures transient failures in a row; the next push sends the rest', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        connections: {
          'crm-b': { kind: 'convio', baseUrl: proxy.url, timeoutMs: 500, rateLimit: { perSecond: 0, concurrency: 2 }, credentials: { apiKey: 'convio-sim-api-key', loginName: 'sim-admin', loginPassword: 'sim-admin-password' } },
        },
      },
    });
    const quiet = log.child({}, { level: 'fatal' });
    const members = Number((await db.knex('members').count({ n: '*' }).first())?.n);
    expect(members).toBe(9);
    proxy.decide = () => 'refuse';
    const before = proxy.counts.refuse;
    const down = await pushConnection('crm-b', { db: db.knex, config, log: quiet, maxConsecutiveFailures: 3 });
    proxy.decide = () => 'pass';
    expect(down.stopped).toBe('3 members in a row failed for a transient reason (the destination looks down); the rest wait for the next push');
    // the third failure stops it; the member in flight beside it (concurrency 2) is recorded too
    expect(down.failed).toBeGreaterThanOrEqual(3);
    expect(down.failed).toBeLessThanOrEqual(4);
    expect(down.pending).toBe(down.failed);
    expect(proxy.counts.refuse - before).toBe(down.failed * 4);
    expect(down.error).toBe(`${down.stopped}; ${down.failed} of ${down.selected} member(s) not delivered (first error: crm-b: network: ECONNRESET socket hang up)`);
    expect(await db.knex('runs').where({ id: down.run_id }).first()).toMatchObject({ status: 'failed', error: down.error });
    expect(await db.knex('push_state').where({ connection: 'crm-b' }).count({ n: '*' }).first()).toEqual({ n: down.failed });

    const up = await pushConnection('crm-b', { db: db.knex, config, log: quiet, maxConsecutiveFailures: 3 });
    expect(up).toMatchObject({ selected: 9, updated: 9, failed: 0, pending: 0 });
    expect(up.stopped).toBeUndefined();
    expect(up.error).toBeUndefined();
    expect(await db.knex('runs').where({ id: up.run_id }).first()).toMatchObject({ status: 'succeeded', error: null });
  });
});
