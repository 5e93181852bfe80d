/**
 * No secret leaks. Import, pull, push (to all five systems), the worker and its admin
 * server run as a user runs them, at LOG_LEVEL=debug, with recognizable secret values:
 * API keys, passwords, OAuth consumer and token secrets, the Vocdoni bearer token, the
 * admin bearer token, the password in DATABASE_URL and in REDIS_URL. Failures are caused
 * on purpose (refused credentials, an unreachable database). Then every log line, error
 * message, command output, run report (`runs`, `runs show`, the runs and push tables),
 * the error of a server that echoes the secrets it was sent (percent-encoded, in JSON, in base64),
 * and every admin response (body and headers) is searched for each secret, plain and
 * percent-, form- and JSON-escaped, base64, and for the IKANOW password's hash: zero hits.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import knexFactory from 'knex';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCommunitySimulator } from '../../src/connectors/community/simulator.js';
import { startConvioSimulator } from '../../src/connectors/convio/simulator.js';
import { startIkanowSimulator } from '../../src/connectors/ikanow/simulator.js';
import type { SimulatorHandle } from '../../src/connectors/types.js';
import { startVocdoniSimulator } from '../../src/connectors/vocdoni/simulator.js';
import { newVoterDeviceId, startWeVoteSimulator } from '../../src/connectors/wevote/simulator.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { freePort, killAll, startWorker, until } from '../helpers/worker-procs.js';
import { REDIS_URL, redisAnswers } from '../e2e/worker-suite.js';

const exec = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const haveRedis = process.env.CI ? true : await redisAnswers();

const SECRETS = {
  // some carry characters that each encoding writes differently (quote, backslash, slash, plus, space, &, =, %, non-ASCII)
  CONVIO_API_KEY: 'Zx1-convio-apikey-SECRET-7q2/+ "\\&=%é',
  CONVIO_PASSWORD: 'Zx1-convio-password-SECRET-8r3 "q\\/+=&',
  IKANOW_PASSWORD: 'Zx1-ikanow-password-SECRET-9s4',
  GNOSS_CONSUMER_KEY: 'Zx1-gnoss-consumer-key-SECRET-1a',
  GNOSS_CONSUMER_SECRET: 'Zx1-gnoss-consumer-secret-SECRET-2b',
  GNOSS_TOKEN: 'Zx1-gnoss-token-SECRET-3c',
  GNOSS_TOKEN_SECRET: 'Zx1-gnoss-token-secret-SECRET-4d',
  WEVOTE_API_KEY: 'Zx1-wevote-apikey-SECRET-5e',
  WEVOTE_MANAGEMENT_KEY: 'Zx1-wevote-management-SECRET-6f',
  WEVOTE_DEVICE_ID: newVoterDeviceId(),
  VOCDONI_TOKEN: 'vsk_Zx1-vocdoni-token-SECRET-7g',
  BAD_API_KEY: 'Zx1-refused-apikey-SECRET-8h"\\/+ &é',
  BAD_PASSWORD: 'Zx1-refused-password-SECRET-9i/+"\\=',
  BAD_TOKEN: 'vsk_Zx1-refused-token-SECRET-0j',
  ADMIN_TOKEN: 'Zx1-admin-bearer-SECRET-1k',
  DB_PASSWORD: 'Zx1-db-password-SECRET-2l/+"\\ &=%',
  REDIS_PASSWORD: 'Zx1-redis-password-SECRET-3m/+"\\ &=',
};
/** the forms that give a secret away as well as the literal */
function encodings(name: string, v: string): string[][] {
  const b = Buffer.from(v, 'utf8');
  return [
    [name, v],
    [`${name} (URL-encoded)`, encodeURIComponent(v)],
    [`${name} (form-encoded)`, new URLSearchParams({ k: v }).toString().slice(2)],
    [`${name} (JSON-escaped)`, JSON.stringify(v).slice(1, -1)],
    [`${name} (JSON-escaped, ASCII only)`, JSON.stringify(v).slice(1, -1).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)],
    [`${name} (base64)`, b.toString('base64').replace(/=+$/, '')],
    [`${name} (base64url)`, b.toString('base64url')],
  ];
}
/** each secret in each encoding, and the IKANOW password's hash */
const needles = [
  ...Object.entries(SECRETS).flatMap(([k, v]) => encodings(k, v)),
  ...encodings('IKANOW_PASSWORD hash', createHash('sha256').update(SECRETS.IKANOW_PASSWORD).digest('base64')),
  ['CONVIO_PASSWORD in a Basic header', Buffer.from(`api-admin:${SECRETS.CONVIO_PASSWORD}`).toString('base64')],
].filter(([, v], i, all) => all.findIndex(([, w]) => w === v) === i);

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-secrets-'));
const collected: { what: string; text: string }[] = [];
const sims: SimulatorHandle[] = [];
let db: TestDb;
let dbRole: string | undefined;
let env: Record<string, string>;
let communityId: string;
let echo: http.Server;
let adminPort: number;

function keep(what: string, text: string): void {
  collected.push({ what, text });
}

async function cli(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let r: { code: number; stdout: string; stderr: string };
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'debug', LOG_FORMAT: 'json', ...env, ...extra }, maxBuffer: 64 * 1024 * 1024 });
    r = { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    r = { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
  keep(`member-sync ${args.join(' ')}: stdout`, r.stdout);
  keep(`member-sync ${args.join(' ')}: stderr`, r.stderr);
  return r;
}

beforeAll(async () => {
  db = await createTestDb();
  adminPort = await freePort();
  const people = [1, 2, 3].map((i) => ({ member_id: `S-${i}`, email: `s${i}@example.org`, first_name: `Sam${i}`, last_name: 'Old' }));
  const convio = await startConvioSimulator({ groupIds: [1001], people, apiKey: SECRETS.CONVIO_API_KEY, loginName: 'api-admin', loginPassword: SECRETS.CONVIO_PASSWORD });
  const ikanow = await startIkanowSimulator({ people, username: 'admin@ikanow.example', password: SECRETS.IKANOW_PASSWORD });
  const community = await startCommunitySimulator({
    people,
    consumerKey: SECRETS.GNOSS_CONSUMER_KEY,
    consumerSecret: SECRETS.GNOSS_CONSUMER_SECRET,
    token: SECRETS.GNOSS_TOKEN,
    tokenSecret: SECRETS.GNOSS_TOKEN_SECRET,
    communityShortName: 'members',
  });
  communityId = community.state.community.id;
  const wevote = await startWeVoteSimulator({ people, apiKey: SECRETS.WEVOTE_API_KEY, managementApiKey: SECRETS.WEVOTE_MANAGEMENT_KEY, deviceIds: [SECRETS.WEVOTE_DEVICE_ID] });
  const vocdoni = await startVocdoniSimulator({ people, token: SECRETS.VOCDONI_TOKEN, jobDurationMs: 20 });
  sims.push(convio, ikanow, community, wevote, vocdoni);
  // A Convio look-alike that refuses every call and echoes what it was sent in its error
  // message, in the forms servers do: the form value as sent (percent-encoded), the value
  // in JSON (escaped), and user:password in base64 (as a Basic header carries it).
  echo = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('latin1')));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const sentKey = /(?:^|&)api_key=([^&]*)/.exec(body)?.[1] ?? '';
      const basic = Buffer.from(`${form.get('login_name')}:${form.get('login_password')}`).toString('base64');
      const message = `Incorrect API key. api_key=${sentKey} json=${JSON.stringify({ k: form.get('api_key') })} basic=${basic}`;
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errorResponse: { code: '2', message } }));
    });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const echoUrl = `http://127.0.0.1:${(echo.address() as net.AddressInfo).port}/site/`;
  const rate = '    rateLimit: { perSecond: 0, concurrency: 2 }';
  writeFileSync(
    path.join(dir, 'config.yaml'),
    [
      'import: { batchSize: 50 }',
      'worker: { lockMs: 5000, stalledIntervalMs: 1000, backoffMs: 100, attempts: 1 }',
      'dropFolder: { stableMs: 300 }',
      `admin: { port: ${adminPort} }`,
      'connections:',
      '  convio-s:',
      '    kind: convio',
      `    baseUrl: ${convio.url}`,
      rate,
      '    credentials: { apiKey: "${CONVIO_API_KEY}", loginName: api-admin, loginPassword: "${CONVIO_PASSWORD}" }',
      '    options: { groupIds: [1001] }',
      '  ikanow-s:',
      '    kind: ikanow',
      `    baseUrl: ${ikanow.url}`,
      rate,
      '    credentials: { username: admin@ikanow.example, password: "${IKANOW_PASSWORD}" }',
      '  community-s:',
      '    kind: community',
      `    baseUrl: ${community.url}`,
      rate,
      '    credentials: { consumerKey: "${GNOSS_CONSUMER_KEY}", consumerSecret: "${GNOSS_CONSUMER_SECRET}", token: "${GNOSS_TOKEN}", tokenSecret: "${GNOSS_TOKEN_SECRET}" }',
      `    options: { communityShortName: members, communityId: ${communityId} }`,
      '  wevote-s:',
      '    kind: wevote',
      `    baseUrl: ${wevote.url}`,
      rate,
      '    credentials: { apiKey: "${WEVOTE_API_KEY}", managementApiKey: "${WEVOTE_MANAGEMENT_KEY}", voterDeviceId: "${WEVOTE_DEVICE_ID}" }',
      '    options: { createAccount: true }',
      '  vocdoni-s:',
      '    kind: vocdoni',
      `    baseUrl: ${vocdoni.url}`,
      rate,
      '    credentials: { token: "${VOCDONI_TOKEN}" }',
      `    options: { organizationAddress: "${vocdoni.state.orgAddress}", jobPollMs: 20 }`,
      // refused credentials, on purpose
      '  convio-echo:',
      '    kind: convio',
      `    baseUrl: ${echoUrl}`,
      '    credentials: { apiKey: "${CONVIO_API_KEY}", loginName: api-admin, loginPassword: "${CONVIO_PASSWORD}" }',
      '    options: { groupIds: [1001] }',
      '  convio-refused:',
      '    kind: convio',
      `    baseUrl: ${convio.url}`,
      '    credentials: { apiKey: "${BAD_API_KEY}", loginName: api-admin, loginPassword: "${BAD_PASSWORD}" }',
      '    options: { groupIds: [1001] }',
      '  vocdoni-refused:',
      '    kind: vocdoni',
      `    baseUrl: ${vocdoni.url}`,
      '    credentials: { token: "${BAD_TOKEN}" }',
      `    options: { organizationAddress: "${vocdoni.state.orgAddress}" }`,
      '  ikanow-refused:',
      '    kind: ikanow',
      `    baseUrl: ${ikanow.url}`,
      '    credentials: { username: admin@ikanow.example, password: "${BAD_PASSWORD}" }',
    ].join('\n'),
  );
  // A role whose password is the secret: the embedded server checks it (scram), a trust
  // server ignores it; either way member-sync must hide it.
  dbRole = `ms_secrets_${db.name.slice(-12)}`;
  await db.knex.raw(`create role ${dbRole} login superuser password '${SECRETS.DB_PASSWORD}'`);
  const url = new URL(db.url);
  url.username = dbRole;
  url.password = encodeURIComponent(SECRETS.DB_PASSWORD);
  env = { ...SECRETS, DATABASE_URL: url.toString(), MEMBER_SYNC_CONFIG: 'config.yaml', MEMBER_SYNC_ADMIN_TOKEN: SECRETS.ADMIN_TOKEN };
  mkdirSync(path.join(dir, 'jobs'));
  writeFileSync(path.join(dir, 'jobs', 'sync.yaml'), 'steps:\n  - pull: [convio-s, ikanow-s, community-s, vocdoni-s]\n  - push: [convio-s, ikanow-s, community-s, wevote-s, vocdoni-s]\n');
  writeFileSync(path.join(dir, 'jobs', 'refused.yaml'), 'steps:\n  - pull: vocdoni-refused\n');
  writeFileSync(
    path.join(dir, 'people.csv'),
    'member_id,email,first_name,last_name\nS-1,s1@example.org,Sam1,New\nS-4,s4@example.org,Sue,Four\nS-5,not-an-email,Bad,Row\nS-6,s4@example.org,Clash,Row\n',
  );
});
afterAll(async () => {
  await killAll();
  await new Promise((r) => echo?.close(r));
  await Promise.all(sims.map((s) => s.close()));
  await db?.drop();
  if (dbRole) {
    const admin = knexFactory({ client: 'pg', connection: inject('databaseUrl'), pool: { min: 0, max: 1 } });
    await admin.raw(`drop role if exists ${dbRole}`);
    await admin.destroy();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets', () => {
  it('appear in no log line, error, command output, run report or admin response', { timeout: 180_000 }, async () => {
    // the CLI: import, pull, push, the reports
    const imported = await cli(['import', 'people.csv', '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    for (const c of ['convio-s', 'ikanow-s', 'community-s', 'vocdoni-s']) {
      const pulled = await cli(['pull', c, '--json']);
      expect(pulled.code, pulled.stderr.slice(-2000)).toBe(0);
    }
    const pushes = await Promise.all(['convio-s', 'ikanow-s', 'community-s', 'wevote-s', 'vocdoni-s'].map((c) => cli(['push', c, '--json'])));
    for (const p of pushes) expect(p.code, p.stderr).toBe(0);
    expect(await cli(['push', 'convio-s', '--dry-run'])).toMatchObject({ code: 0 });

    // refused credentials: clear errors, no secret in them
    const refused = await Promise.all([cli(['pull', 'convio-refused']), cli(['pull', 'vocdoni-refused']), cli(['pull', 'ikanow-refused']), cli(['push', 'convio-refused', '--json'])]);
    // a server that echoes the secrets it was sent, encoded: the message comes out, they do not
    const echoed = await cli(['pull', 'convio-echo']);
    expect(echoed).toMatchObject({ code: 1, stderr: expect.stringMatching(/convio-echo: .*Incorrect API key\. api_key=\[REDACTED\] json=\{"k":"\[REDACTED\]"\} basic=/) });
    expect(refused[0]).toMatchObject({ code: 1, stderr: expect.stringMatching(/convio-refused: .*Incorrect API key/) });
    expect(refused[1]).toMatchObject({ code: 1, stderr: expect.stringMatching(/vocdoni-refused: HTTP 401/) });
    expect(refused[2]).toMatchObject({ code: 1, stderr: expect.stringMatching(/ikanow-refused: .*Authentication failed/) });
    // an unreachable database named with its password
    const down = await cli(['runs'], { DATABASE_URL: `postgres://postgres:${encodeURIComponent(SECRETS.DB_PASSWORD)}@127.0.0.1:1/nowhere` });
    expect(down).toMatchObject({ code: 1, stderr: expect.stringMatching(/cannot reach the database/) });

    const runs = (await cli(['runs', '--json', '--limit', '100'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; kind: string; source: string; status: string });
    expect(runs.length).toBeGreaterThan(10);
    // every failed run, and one of each kind
    const shown = runs.filter((r, i) => r.status !== 'succeeded' || runs.findIndex((x) => x.kind === r.kind) === i);
    const reports = [...shown.map((r) => ['runs', 'show', String(r.id), '--json']), ['rejects', '--json'], ['conflicts', '--json'], ['members', 'export'], ['members', 'show', 's1@example.org', '--json']];
    for (let i = 0; i < reports.length; i += 8) await Promise.all(reports.slice(i, i + 8).map((args) => cli(args)));

    // the worker and its admin server, on Redis with a password in REDIS_URL when there is one
    const redisUrl = haveRedis ? REDIS_URL.replace('redis://', `redis://:${encodeURIComponent(SECRETS.REDIS_PASSWORD)}@`) : '';
    const w = startWorker(dir, { LOG_LEVEL: 'debug', ...env, ...(haveRedis ? { REDIS_URL: redisUrl } : {}) });
    const admin = `http://127.0.0.1:${adminPort}`;
    await until('the admin server', async () => (await fetch(`${admin}/healthz`).catch(() => undefined))?.ok, 60_000, w);
    const call = async (what: string, url: string, init?: RequestInit) => {
      const res = await fetch(url, init);
      const body = await res.text();
      keep(`admin ${what}: status, headers and body`, `${res.status} ${JSON.stringify([...res.headers])} ${body}`);
      return { status: res.status, body };
    };
    const bearer = { authorization: `Bearer ${SECRETS.ADMIN_TOKEN}` };
    expect((await call('healthz', `${admin}/healthz`)).status).toBe(200);
    expect((await call('metrics, no token', `${admin}/metrics`)).status).toBe(401);
    expect((await call('metrics, wrong token', `${admin}/metrics`, { headers: { authorization: `Bearer ${SECRETS.BAD_TOKEN}` } })).status).toBe(401);
    const queued = await call('POST /jobs/sync', `${admin}/jobs/sync`, { method: 'POST', headers: bearer });
    expect(queued.status).toBe(202);
    const failing = await call('POST /jobs/refused', `${admin}/jobs/refused`, { method: 'POST', headers: bearer });
    expect(failing.status).toBe(202);
    expect((await call('POST /jobs/nope', `${admin}/jobs/nope`, { method: 'POST', headers: bearer })).status).toBe(404);
    const jobId = JSON.parse(queued.body).job_id;
    const followed = await cli(['enqueue', 'sync', '--wait', '--json'], haveRedis ? { REDIS_URL: redisUrl } : {});
    expect(followed.code, followed.stderr).toBe(0);
    expect(jobId).toBeTruthy();
    await until('the refused job to fail', async () => /job failed/.test(w.output()) && /vocdoni-refused/.test(w.output()), 60_000, w);
    expect((await call('metrics', `${admin}/metrics`, { headers: bearer })).status).toBe(200);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    keep('worker log', w.output());

    // the run reports as stored
    for (const t of ['runs', 'push_state', 'push_errors', 'rejects', 'conflicts', 'checkpoints', 'member_links']) keep(`table ${t}`, JSON.stringify(await db.knex(t).select()));

    // the things that must be there are there: the logs do talk about the connections
    const all = collected.map((c) => c.text).join('\n');
    expect(all).toMatch(/convio-refused/);
    expect(all).toMatch(/\[REDACTED\]/);
    // and no secret anywhere
    const hits: string[] = [];
    for (const { what, text } of collected) for (const [name, value] of needles) if (text.includes(value)) hits.push(`${name} in ${what}`);
    expect(hits).toEqual([]);
  });
});
