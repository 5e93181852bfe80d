/**
 * `member-sync check` and each connector's `check` against its simulator over loopback:
 * reachability, credentials, and the rights the configured steps need (an IKANOW key
 * that is not an admin's is enough to pull but not to push; a GNOSS OAuth user that is
 * not a project admin likewise). Then
 * the command as a user runs it (one line a connection, exit 1 if any fails, --json) and
 * the worker's start-up check in its log.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { startCommunitySimulator } from '../../src/connectors/community/simulator.js';
import { startConvioSimulator } from '../../src/connectors/convio/simulator.js';
import { startIkanowSimulator } from '../../src/connectors/ikanow/simulator.js';
import { startVocdoniSimulator } from '../../src/connectors/vocdoni/simulator.js';
import { newVoterDeviceId, startWeVoteSimulator } from '../../src/connectors/wevote/simulator.js';
import { log } from '../../src/log.js';
import { checkConnection, checkConnections, checkLine } from '../../src/pipeline/check.js';
import { logConnectionChecks, needsFromJobs } from '../../src/queue/check-needs.js';
import { parseJobDefinition } from '../../src/queue/job-definition.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/member-sync.js');
const DEVICE = newVoterDeviceId();

let convio: Awaited<ReturnType<typeof startConvioSimulator>>;
let ikanow: Awaited<ReturnType<typeof startIkanowSimulator>>;
let wevote: Awaited<ReturnType<typeof startWeVoteSimulator>>;
let vocdoni: Awaited<ReturnType<typeof startVocdoniSimulator>>;
let community: Awaited<ReturnType<typeof startCommunitySimulator>>;
let plainCommunity: Awaited<ReturnType<typeof startCommunitySimulator>>;

function connections(over: Record<string, Record<string, unknown>> = {}): Record<string, Record<string, unknown>> {
  const fast = { perSecond: 0, concurrency: 2 };
  const base: Record<string, Record<string, unknown>> = {
    'convio-k': { kind: 'convio', baseUrl: convio.url, credentials: { apiKey: 'convio-sim-api-key', loginName: 'sim-admin', loginPassword: 'sim-admin-password' }, rateLimit: fast, options: { groupIds: [1001] } },
    'ikanow-k': { kind: 'ikanow', baseUrl: ikanow.url, credentials: { apiKey: 'ikanow-sim-api-key' }, rateLimit: fast },
    'wevote-k': { kind: 'wevote', baseUrl: wevote.url, credentials: { apiKey: 'wevote-api-key', managementApiKey: 'sim-management-key', voterDeviceId: DEVICE }, rateLimit: fast },
    'vocdoni-k': { kind: 'vocdoni', baseUrl: vocdoni.url, credentials: { token: 'sim-vocdoni-token' }, rateLimit: fast, options: { organizationAddress: vocdoni.state.orgAddress } },
    'community-k': {
      kind: 'community',
      baseUrl: community.url,
      credentials: { consumerKey: 'sim-consumer-key', consumerSecret: 'sim-consumer-secret', token: 'sim-token', tokenSecret: 'sim-token-secret' },
      rateLimit: fast,
      options: { communityShortName: 'developers', communityId: community.state.community.id },
    },
  };
  for (const [name, o] of Object.entries(over)) base[name] = { ...base[name], ...o, credentials: { ...(base[name]?.credentials as object), ...((o.credentials as object) ?? {}) } };
  return base;
}
const configOf = (over: Record<string, Record<string, unknown>> = {}): Readonly<Config> => loadConfig({ env: {}, overrides: { connections: connections(over) } });

beforeAll(async () => {
  [convio, ikanow, wevote, vocdoni, community, plainCommunity] = await Promise.all([
    startConvioSimulator(),
    startIkanowSimulator({ people: [{ email: 'user@example.org', first_name: 'Use' }] }),
    startWeVoteSimulator(),
    startVocdoniSimulator({ autoGroup: false }),
    startCommunitySimulator({ people: [{ email: 'c1@example.org', first_name: 'Cora' }] }),
    startCommunitySimulator({ oauthUserIsAdmin: false }),
  ]);
  // an IKANOW account that is not an admin, with its own key
  [...ikanow.state.people.values()].find((p) => p.email === 'user@example.org')!.apiKey = 'ikanow-user-key';
});
afterAll(async () => {
  await Promise.all([convio, ikanow, wevote, vocdoni, community, plainCommunity].map((s) => s?.close()));
});

describe('each connector check against its simulator', () => {
  it('passes for every system with the right credentials, checking pull and push rights, and changes nothing', async () => {
    const before = { convio: convio.state.constituents.size, vocdoni: vocdoni.state.members.size };
    const results = await checkConnections({ config: configOf(), log });
    for (const r of results) expect(r, checkLine(r)).toMatchObject({ ok: true });
    expect(Object.fromEntries(results.map((r) => [r.connection, r.needs]))).toEqual({
      'convio-k': ['pull', 'push'],
      'ikanow-k': ['pull', 'push'],
      'wevote-k': ['push'],
      'vocdoni-k': ['pull', 'push'],
      'community-k': ['pull', 'push'],
    });
    expect(results.find((r) => r.connection === 'ikanow-k')!.detail).toContain('admin account');
    expect(results.find((r) => r.connection === 'convio-k')!.detail).toMatch(/listUserFields, getGroupMembers \(1 group\(s\)\), getUser/);
    expect({ convio: convio.state.constituents.size, vocdoni: vocdoni.state.members.size }).toEqual(before);
  });

  it.each([
    ['convio-k', { credentials: { loginPassword: 'wrong-password' } }, /code 3: Authorization failed/],
    ['ikanow-k', { credentials: { apiKey: 'wrong-ikanow-key' } }, /not logged in/i],
    ['wevote-k', { credentials: { managementApiKey: 'wrong-management-key' } }, /MANAGEMENT_API_KEY_NOT_ACCEPTED/],
    ['vocdoni-k', { credentials: { token: 'wrong-token' } }, /40001/],
    ['community-k', { credentials: { tokenSecret: 'wrong-token-secret' } }, /Invalid OAuth signature/],
  ])('%s: refused credentials fail the check as [auth]', async (name, over, reason) => {
    const r = await checkConnection(name, { config: configOf({ [name]: over }), log });
    expect(r).toMatchObject({ ok: false, failure: 'auth' });
    expect(r.detail).toMatch(reason);
    expect(checkLine(r)).toMatch(new RegExp(`^FAIL  ${name} `));
    // the secret never shows
    expect(JSON.stringify(r)).not.toMatch(/wrong-(password|ikanow-key|management-key|token-secret)|wrong-token/);
  });

  it('an IKANOW key that is not an admin is enough to pull, not to push', async () => {
    const config = configOf({ 'ikanow-k': { credentials: { apiKey: 'ikanow-user-key' } } });
    expect(await checkConnection('ikanow-k', { config, log, needs: { pull: true, push: false } })).toMatchObject({ ok: true });
    const push = await checkConnection('ikanow-k', { config, log, needs: { pull: false, push: true } });
    expect(push).toMatchObject({ ok: false, failure: 'auth' });
    expect(push.detail).toMatch(/a 'user' account; a push needs an IKANOW admin/);
  });

  it('a GNOSS OAuth user that is not a project admin is enough to pull, not to push', async () => {
    const config = configOf({ 'community-k': { baseUrl: plainCommunity.url, options: { communityShortName: 'developers', communityId: plainCommunity.state.community.id } } });
    expect(await checkConnection('community-k', { config, log, needs: { pull: true, push: false } })).toMatchObject({ ok: true });
    const push = await checkConnection('community-k', { config, log, needs: { pull: false, push: true } });
    expect(push).toMatchObject({ ok: false, failure: 'auth' });
    expect(push.detail).toMatch(/does not have permission/);
  });

  it('a host that does not resolve fails as [dns], a base URL that is not the API as [format]', async () => {
    const dns = await checkConnection('vocdoni-k', { config: configOf({ 'vocdoni-k': { baseUrl: 'http://member-sync-nowhere.invalid' } }), log });
    expect(dns).toMatchObject({ ok: false, failure: 'dns' });
    const elsewhere = await checkConnection('ikanow-k', { config: configOf({ 'ikanow-k': { baseUrl: wevote.url } }), log });
    expect(elsewhere).toMatchObject({ ok: false, failure: 'format' });
  });

  it('asks for the rights the job steps need: pull, push, migrate, "*"', () => {
    const config = configOf();
    const defs = new Map([
      ['a', parseJobDefinition('a', { steps: [{ pull: 'convio-k' }, { push: ['vocdoni-k'] }] }, 'jobs/a.yaml')],
      ['b', parseJobDefinition('b', { steps: [{ migrate: 'ikanow-k', to: 'wevote-k' }] }, 'jobs/b.yaml')],
    ]);
    const needs = needsFromJobs(defs, config);
    expect(Object.fromEntries(needs)).toEqual({
      'convio-k': { pull: true, push: false },
      'vocdoni-k': { pull: false, push: true },
      'ikanow-k': { pull: true, push: false },
      'wevote-k': { pull: false, push: true },
      // no job names it: all its kind can do
      'community-k': { pull: true, push: true },
    });
    const all = needsFromJobs(new Map([['c', parseJobDefinition('c', { steps: [{ push: '*' }] }, 'jobs/c.yaml')]]), config);
    expect(all.get('convio-k')).toEqual({ pull: false, push: true });
  });

  it('the worker start-up check logs one line a connection, a warning with the reason for a failing one', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
    await logConnectionChecks(new Map(), configOf({ 'vocdoni-k': { credentials: { token: 'wrong-token' } } }), logger);
    expect(lines).toHaveLength(5);
    const bad = lines.find((l) => l.connection === 'vocdoni-k')!;
    expect(bad).toMatchObject({ level: 40, failure: 'auth', msg: expect.stringContaining('connection check failed') });
    expect(String(bad.error)).toMatch(/40001/);
    expect(lines.filter((l) => l.msg === 'connection check passed')).toHaveLength(4);
  });
});

describe('member-sync check, as a user runs it', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-check-'));
  async function cli(args: string[], conns: Record<string, Record<string, unknown>>): Promise<{ code: number; stdout: string; stderr: string }> {
    const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ connections: conns }));
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, 'check', ...args], { cwd: dir, env: { ...process.env, LOG_LEVEL: 'warn', MEMBER_SYNC_CONFIG: file } });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('prints one line a connection and exits 0 when all pass, 1 when one fails; --json and names', async () => {
    const ok = await cli([], connections());
    expect(ok.code, ok.stderr).toBe(0);
    const lines = ok.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^ok {4}[a-z]+-k \([a-z]+; (pull, )?push\): .+ \(\d+ ms\)$/);

    const bad = await cli(['vocdoni-k', 'wevote-k', '--json'], connections({ 'vocdoni-k': { credentials: { token: 'wrong-token-cli' } } }));
    expect(bad.code).toBe(1);
    const rows = bad.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((r) => [r.connection, r.ok, r.failure])).toEqual([
      ['vocdoni-k', false, 'auth'],
      ['wevote-k', true, undefined],
    ]);
    expect(bad.stdout + bad.stderr).not.toContain('wrong-token-cli');

    const unknown = await cli(['nope'], connections());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown connection 'nope'/);
  });
});
