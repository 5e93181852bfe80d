/**
 * Connection-level failures stop a push or pull at once (issue 12, Found 2): a refused
 * key or token for each of the five systems, a base URL that does not resolve, and a
 * base URL that is not the system's API. The run is `failed` with the reason, no member
 * is marked failed by it, and once the connection is fixed a plain push sends everyone.
 * Against the simulators over loopback, with real PostgreSQL.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { startCommunitySimulator } from '../../src/connectors/community/simulator.js';
import { startConvioSimulator } from '../../src/connectors/convio/simulator.js';
import { startIkanowSimulator } from '../../src/connectors/ikanow/simulator.js';
import { startVocdoniSimulator } from '../../src/connectors/vocdoni/simulator.js';
import { newVoterDeviceId, startWeVoteSimulator } from '../../src/connectors/wevote/simulator.js';
import { ConnectionError, isRetryable } from '../../src/errors.js';
import { log } from '../../src/log.js';
import { pullConnection } from '../../src/pipeline/pull.js';
import { up as markConnectionFailuresPending } from '../../src/store/migrations/008-connection-failures-pending.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { configWith, importCsv, peopleCsv, pushWith } from '../integration/push-setup.js';

let db: TestDb;
let convio: Awaited<ReturnType<typeof startConvioSimulator>>;
let ikanow: Awaited<ReturnType<typeof startIkanowSimulator>>;
let wevote: Awaited<ReturnType<typeof startWeVoteSimulator>>;
let vocdoni: Awaited<ReturnType<typeof startVocdoniSimulator>>;
let community: Awaited<ReturnType<typeof startCommunitySimulator>>;
const DEVICE = newVoterDeviceId();
const run = promisify(execFile);
const N = 6;

/** each connection with its right credentials; `wrong` swaps one for a refused value */
function connections(wrong: Partial<Record<string, Record<string, string>>> = {}, baseUrls: Partial<Record<string, string>> = {}) {
  const fast = { perSecond: 0, concurrency: 2 };
  const c = (name: string, creds: Record<string, string>) => ({ ...creds, ...wrong[name] });
  return {
    'convio-c': { kind: 'convio', baseUrl: baseUrls['convio-c'] ?? convio.url, credentials: c('convio-c', { apiKey: 'convio-sim-api-key', loginName: 'sim-admin', loginPassword: 'sim-admin-password' }), rateLimit: fast, options: { groupIds: [1001] } },
    'ikanow-c': { kind: 'ikanow', baseUrl: baseUrls['ikanow-c'] ?? ikanow.url, credentials: c('ikanow-c', { apiKey: 'ikanow-sim-api-key' }), rateLimit: fast },
    'wevote-c': {
      kind: 'wevote',
      baseUrl: baseUrls['wevote-c'] ?? wevote.url,
      credentials: c('wevote-c', { apiKey: 'wevote-api-key', managementApiKey: 'sim-management-key', voterDeviceId: DEVICE }),
      rateLimit: fast,
      options: { createAccount: true },
    },
    'vocdoni-c': {
      kind: 'vocdoni',
      baseUrl: baseUrls['vocdoni-c'] ?? vocdoni.url,
      credentials: c('vocdoni-c', { token: 'sim-vocdoni-token' }),
      rateLimit: fast,
      options: { organizationAddress: vocdoni.state.orgAddress, jobPollMs: 10 },
    },
    'community-c': {
      kind: 'community',
      baseUrl: baseUrls['community-c'] ?? community.url,
      credentials: c('community-c', { consumerKey: 'sim-consumer-key', consumerSecret: 'sim-consumer-secret', token: 'sim-token', tokenSecret: 'sim-token-secret' }),
      rateLimit: fast,
      options: { communityShortName: 'developers', communityId: community.state.community.id },
    },
  };
}

const good = (): Readonly<Config> => configWith(connections());

/** the same people with another first name: a change every system is sent */
const renamed = (tag: string): string => peopleCsv(N).replace(/First(\d+)/g, `First$1${tag}`);

beforeAll(async () => {
  db = await createTestDb();
  [convio, ikanow, wevote, vocdoni, community] = await Promise.all([
    startConvioSimulator(),
    startIkanowSimulator(),
    startWeVoteSimulator(),
    startVocdoniSimulator({ autoGroup: false, jobDurationMs: 20 }),
    startCommunitySimulator({ people: Array.from({ length: N }, (_, i) => ({ email: `p${i + 1}@example.org`, first_name: `First${i + 1}`, last_name: `Last${i + 1}`, city: 'Bilbao' })) }),
  ]);
  await importCsv(db, good(), peopleCsv(N));
  // the community platform takes only users it already has: link them with a pull, then change them
  await pullConnection('community-c', { db: db.knex, config: good(), log });
  await importCsv(db, good(), peopleCsv(N, 1, () => 'Madrid'));
});
afterAll(async () => {
  await Promise.all([convio, ikanow, wevote, vocdoni, community].map((s) => s?.close()));
  await db?.drop();
});

const failedStates = async (connection: string): Promise<number> =>
  Number((await db.knex('push_state').where({ connection, status: 'failed' }).count<{ n: string }[]>({ n: '*' }))[0].n);
const lastRun = (connection: string) => db.knex('runs').where({ kind: 'push', source: connection }).orderBy('id', 'desc').first();

async function expectStopped(config: Readonly<Config>, name: string, failure: string, reason: RegExp): Promise<void> {
  const err = await pushWith(db, config)(name).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectionError);
  expect(err).toMatchObject({ code: 'E_CONNECTION', failure });
  expect(isRetryable(err)).toBe(false);
  expect((err as Error).message).toMatch(reason);
  const run = await lastRun(name);
  expect(run).toMatchObject({ status: 'failed' });
  expect(String(run.error)).toMatch(reason);
  // no member carries the connection's failure
  expect(await failedStates(name)).toBe(0);
}

describe.each([
  ['convio-c', { apiKey: 'wrong-convio-key' }, /code 2: Incorrect API key/],
  ['ikanow-c', { apiKey: 'wrong-ikanow-key' }, /not logged in/i],
  ['wevote-c', { managementApiKey: 'wrong-management-key' }, /MANAGEMENT_API_KEY_NOT_ACCEPTED/],
  ['vocdoni-c', { token: 'wrong-vocdoni-token' }, /HTTP 401 code 40001: authentication required/],
  ['community-c', { consumerSecret: 'wrong-consumer-secret' }, /HTTP 401: Invalid OAuth signature/],
] as const)('%s with refused credentials', (name, wrong, reason) => {
  it('stops the push at once with a failed run, marks no member failed, and the fixed connection then sends everyone', async () => {
    const before = await pushWith(db, good())(name, { dryRun: true });
    expect(before.selected).toBeGreaterThanOrEqual(N);
    await expectStopped(configWith(connections({ [name]: wrong })), name, 'auth', reason);
    const fixed = await pushWith(db, good())(name);
    expect(fixed).toMatchObject({ failed: 0, held_failed: 0 });
    expect(fixed.created + fixed.updated).toBe(N);
    expect(await pushWith(db, good())(name)).toMatchObject({ selected: 0, requests: 0 });
  });
});

describe('a base URL that does not resolve or is not the API', () => {
  it('ENOTFOUND stops the push as a DNS failure, no member failed', async () => {
    await importCsv(db, good(), renamed('Paris'));
    await expectStopped(configWith(connections({}, { 'vocdoni-c': 'http://member-sync-nowhere.invalid/v1' })), 'vocdoni-c', 'dns', /ENOTFOUND/);
    await expectStopped(configWith(connections({}, { 'ikanow-c': 'http://member-sync-nowhere.invalid/api' })), 'ikanow-c', 'dns', /ENOTFOUND/);
  });

  it("a server that is not the system's (another API, an HTML page) stops the push as a format failure", async () => {
    // IKANOW pointed at the WeVote simulator: 404 HTML pages; WeVote pointed at Vocdoni: plain-text 404s
    await expectStopped(configWith(connections({}, { 'ikanow-c': wevote.url })), 'ikanow-c', 'format', /not an IKANOW envelope|without an IKANOW envelope/);
    await expectStopped(configWith(connections({}, { 'wevote-c': vocdoni.url })), 'wevote-c', 'format', /voterUpdate answered HTTP 404/);
    await expectStopped(configWith(connections({}, { 'convio-c': ikanow.url })), 'convio-c', 'format', /Convio errorResponse|has no/);
  });

  it('a portal answering 200 HTML to everything stops the pull and the push of each system as a format failure', async () => {
    const portal = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html><body>Welcome to our portal</body></html>');
    });
    await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(portal.address() as AddressInfo).port}`;
    try {
      const at = configWith(connections({}, { 'vocdoni-c': url, 'ikanow-c': url, 'convio-c': url, 'wevote-c': url, 'community-c': url }));
      for (const name of ['vocdoni-c', 'ikanow-c', 'convio-c', 'community-c']) {
        await expect(pullConnection(name, { db: db.knex, config: at, log, full: true }), name).rejects.toMatchObject({ code: 'E_CONNECTION', failure: 'format' });
      }
      await importCsv(db, good(), renamed('Portal'));
      for (const name of ['vocdoni-c', 'ikanow-c', 'convio-c', 'wevote-c', 'community-c']) await expectStopped(at, name, 'format', /baseUrl/);
    } finally {
      portal.closeAllConnections();
      await new Promise((r) => portal.close(r));
    }
  });

  it('a pull with a refused key fails with the connection error', async () => {
    const bad = configWith(connections({ 'vocdoni-c': { token: 'wrong-vocdoni-token' } }));
    await expect(pullConnection('vocdoni-c', { db: db.knex, config: bad, log })).rejects.toMatchObject({ code: 'E_CONNECTION', failure: 'auth' });
    const run = await db.knex('runs').where({ kind: 'pull', source: 'vocdoni-c' }).orderBy('id', 'desc').first();
    expect(run).toMatchObject({ status: 'failed' });
  });
});

describe('as a user runs it', () => {
  it('`member-sync push` and `member-sync run` with a refused token exit 1 with one line naming the reason; the run is failed', async () => {
    await importCsv(db, good(), renamed('Cli'));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-connfail-'));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ connections: { 'vocdoni-c': connections({ 'vocdoni-c': { token: '${VOCDONI_TOKEN}' } })['vocdoni-c'] } }));
    const cli = async (args: string[]) =>
      run(process.execPath, [path.resolve('bin/member-sync.js'), ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'error', DATABASE_URL: db.url, MEMBER_SYNC_CONFIG: file, VOCDONI_TOKEN: 'refused-token-cli-1' } }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const push = await cli(['push', 'vocdoni-c']);
    expect(push.code).toBe(1);
    expect(push.stderr).toMatch(/^member-sync: vocdoni-c: HTTP 401 code 40001: authentication required\n$/);
    expect((await lastRun('vocdoni-c')).status).toBe('failed');
    const steps = await cli(['run', '--steps', '[{push: vocdoni-c}]']);
    expect(steps.code).toBe(1);
    expect(steps.stdout + steps.stderr).toMatch(/authentication required/);
    expect(push.stdout + push.stderr + steps.stdout + steps.stderr).not.toContain('refused-token-cli-1');
    expect(await failedStates('vocdoni-c')).toBe(0);
  });
});

describe('members marked failed by a connection failure before this fix', () => {
  it('are made pending by migration 008, so a plain push sends them', async () => {
    await importCsv(db, good(), renamed('Roma'));
    expect((await pushWith(db, good())('wevote-c')).failed).toBe(0);
    // what the old code left after a push with a refused key: every member failed (permanent)
    // with the payload it tried, kind auth in push_errors — held back by every later push
    const ids = (await db.knex('members').whereIn('email', Array.from({ length: N }, (_, i) => `p${i + 1}@example.org`)).select('id')).map((r) => r.id as string);
    const [{ id: runId }] = await db.knex('runs').insert({ kind: 'push', source: 'wevote-c', status: 'succeeded' }).returning('id');
    await db.knex('push_state').where({ connection: 'wevote-c' }).whereIn('member_id', ids).update({ status: 'failed', run_id: runId, last_error: 'wevote-c: HTTP 200 code MANAGEMENT_API_KEY_NOT_ACCEPTED: MANAGEMENT_API_KEY_NOT_ACCEPTED' });
    for (const id of ids) {
      await db.knex('push_errors').insert({ run_id: runId, connection: 'wevote-c', member_id: id, status: 'failed', kind: 'auth', message: 'wevote-c: HTTP 200 code MANAGEMENT_API_KEY_NOT_ACCEPTED' });
    }
    // one member refused for its own record stays failed
    const [own] = await db.knex('members').where({ email: 'p1@example.org' }).select('id');
    await db.knex('push_errors').where({ member_id: own.id, run_id: runId }).update({ kind: 'validation', message: 'wevote-c: HTTP 200 code RequestDataTooBig' });
    await db.knex('push_state').where({ connection: 'wevote-c', member_id: own.id }).update({ last_error: 'wevote-c: HTTP 200 code RequestDataTooBig' });
    expect(await pushWith(db, good())('wevote-c', { dryRun: true })).toMatchObject({ selected: 0, held_failed: N });
    await markConnectionFailuresPending(db.knex);
    expect(await failedStates('wevote-c')).toBe(1);
    const again = await pushWith(db, good())('wevote-c');
    expect(again).toMatchObject({ selected: N - 1, failed: 0, held_failed: 1 });
  });
});
