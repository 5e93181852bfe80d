/**
 * Who can get in. The admin server refuses a missing or wrong bearer token (401) however
 * it is sent, compares tokens in constant time, and answers nothing protected without a
 * token configured; the admin server and the simulators listen on loopback unless told
 * otherwise (checked by connecting through this machine's own network address); IKANOW
 * gets passwords only as SHA-256 hashes (every byte sent to it is read through a
 * recording proxy).
 */
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { startIkanowSimulator } from '../../src/connectors/ikanow/simulator.js';
import { ConfigError } from '../../src/errors.js';
import { hashPassword } from '../../src/connectors/ikanow/client.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { pullConnection } from '../../src/pipeline/pull.js';
import { pushConnection } from '../../src/pipeline/push.js';
import { createMetrics } from '../../src/queue/metrics.js';
import { startAdminServer, type AdminServer } from '../../src/server/admin.js';
import { bearerMatches } from '../../src/server/bearer.js';
import { startSandbox } from '../../src/server/sandbox.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';

const quiet = log.child({}, { level: 'fatal' });
const TOKEN = 'access-test-token-0123456789';
const queued: string[] = [];

/**
 * Addresses of this machine other than 127.0.0.1, to test what listens beyond it: the
 * first non-loopback IPv4 address when there is one, and 127.0.0.2 (on Linux all of
 * 127/8 is this machine, yet a socket bound to 127.0.0.1 is not reached there). Each
 * test first proves its probes reach a server bound to every address, so a machine
 * without them fails the test instead of passing it unchecked.
 */
const probes = [
  ...Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address)
    .slice(0, 1),
  ...(process.platform === 'linux' ? ['127.0.0.2'] : []),
];

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(2000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

function admin(opts: { token?: string; host?: string } = {}): Promise<AdminServer> {
  return startAdminServer({
    host: opts.host ?? loadConfig({ env: {}, files: [], overrides: {} }).admin.host,
    port: 0,
    token: opts.token,
    log: quiet,
    registry: createMetrics().registry,
    backend: 'postgres',
    health: async () => ({ postgres: 'ok', queue: 'ok' }),
    enqueue: async (name) => {
      if (name !== 'nightly') throw new ConfigError(`no job '${name}' in ./jobs; jobs: nightly`);
      queued.push(name);
      return { id: String(queued.length) };
    },
  });
}

describe('the admin server', () => {
  let server: AdminServer;
  let open: AdminServer;
  beforeAll(async () => {
    server = await admin({ token: TOKEN });
    open = await admin({});
  });
  afterAll(async () => {
    await server?.close();
    await open?.close();
  });

  it('refuses /metrics and /jobs without the right bearer token, however it is sent (401)', async () => {
    const wrong: Record<string, string>[] = [
      {},
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: TOKEN },
      { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: `Bearer ${TOKEN}0` },
      { authorization: `Bearer ${TOKEN.toUpperCase()}` },
      { authorization: `Bearer x${TOKEN}` },
      { authorization: `Bearer ${TOKEN} ${TOKEN}` },
      { authorization: `Bearer ${'a'.repeat(8000)}` },
      { 'x-admin-token': TOKEN },
      { cookie: `token=${TOKEN}` },
    ];
    for (const headers of wrong) {
      for (const [method, url] of [
        ['GET', `${server.url}/metrics`],
        ['HEAD', `${server.url}/metrics`],
        ['POST', `${server.url}/jobs/nightly`],
        ['POST', `${server.url}/jobs/nightly?token=${TOKEN}`],
      ]) {
        const res = await fetch(url, { method, headers });
        expect(res.status, `${method} ${url} ${JSON.stringify(headers).slice(0, 80)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
    expect(queued).toEqual([]);
    // the right one, in any case of the scheme
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${server.url}/jobs/nightly`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(202);
  });

  it('answers a malformed job name with 404, not an internal error', async () => {
    const res = await fetch(`${server.url}/jobs/%E0%A4%A`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(404);
  });

  it('without MEMBER_SYNC_ADMIN_TOKEN, has no protected route at all (404), whatever is sent', async () => {
    for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: `Bearer ${TOKEN}` }] as Record<string, string>[]) {
      expect((await fetch(`${open.url}/metrics`, { headers })).status).toBe(404);
      expect((await fetch(`${open.url}/jobs/nightly`, { method: 'POST', headers })).status).toBe(404);
    }
    expect((await fetch(`${open.url}/healthz`)).status).toBe(200);
  });

  it('compares tokens in constant time: every answer comes from timingSafeEqual on equal-length digests', () => {
    // Timing cannot be measured reliably here (the header parse costs more than a compare),
    // so the comparison is watched instead: crypto.timingSafeEqual is wrapped (the real one
    // still answers) and every call of bearerMatches, whatever it is given, must go through
    // it once, with two buffers of one length, and answer what it answered. An early exit
    // on length or content, or a plain ===, makes fewer calls or answers otherwise.
    const real = crypto.timingSafeEqual;
    const calls: { a: number; b: number; result: boolean }[] = [];
    (crypto as { timingSafeEqual: typeof real }).timingSafeEqual = (a, b) => {
      const result = real(a, b);
      calls.push({ a: a.byteLength, b: b.byteLength, result });
      return result;
    };
    syncBuiltinESMExports();
    try {
      const wrong = ['', 'x', TOKEN.slice(1), TOKEN.slice(0, -1) + 'X', 'X' + TOKEN.slice(1), TOKEN + TOKEN, TOKEN.toUpperCase(), 'é'.repeat(100), '\u0000'.repeat(5)];
      const right = [`Bearer ${TOKEN}`, `bearer ${TOKEN}`];
      for (const h of [...wrong.map((g) => `Bearer ${g}`), 'Basic abc', '', ...right]) {
        calls.length = 0;
        const answer = bearerMatches(h, TOKEN);
        expect(answer, h).toBe(right.includes(h));
        expect(calls, h).toHaveLength(1);
        expect(calls[0].a, h).toBe(calls[0].b);
        expect(calls[0].a, h).toBeGreaterThanOrEqual(32);
        expect(calls[0].result, h).toBe(answer);
      }
    } finally {
      (crypto as { timingSafeEqual: typeof real }).timingSafeEqual = real;
      syncBuiltinESMExports();
    }
  });

  it('listens on loopback by default (admin.host), and only where configured otherwise', async () => {
    expect(loadConfig({ env: {}, files: [], overrides: {} }).admin.host).toBe('127.0.0.1');
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
    expect(probes.length, 'an address of this machine other than 127.0.0.1 to probe from').toBeGreaterThan(0);
    const everywhere = await admin({ token: TOKEN, host: '0.0.0.0' });
    try {
      // the probes work: they reach a server listening on every address
      for (const p of probes) expect(await reachable(p, everywhere.port), p).toBe(true);
    } finally {
      await everywhere.close();
    }
    expect(await reachable('127.0.0.1', server.port)).toBe(true);
    for (const p of probes) expect(await reachable(p, server.port), p).toBe(false);
  });
});

describe('the simulators', () => {
  it('listen on loopback only, unless given a host', { timeout: 60_000 }, async () => {
    expect(probes.length, 'an address of this machine other than 127.0.0.1 to probe from').toBeGreaterThan(0);
    const wide = await startSandbox({ people: 5, host: '0.0.0.0' });
    try {
      // the probes work: they reach simulators listening on every address
      for (const sim of Object.values(wide.simulators)) for (const p of probes) expect(await reachable(p, Number(new URL(sim.url).port)), p).toBe(true);
    } finally {
      await wide.close();
    }
    const sb = await startSandbox({ people: 5 });
    try {
      for (const [kind, sim] of Object.entries(sb.simulators)) {
        const u = new URL(sim.url);
        expect(u.hostname, kind).toBe('127.0.0.1');
        expect(await reachable('127.0.0.1', Number(u.port)), kind).toBe(true);
        for (const p of probes) expect(await reachable(p, Number(u.port)), `${kind} at ${p}`).toBe(false);
      }
    } finally {
      await sb.close();
    }
  });
});

describe('IKANOW passwords', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('are only ever sent as SHA-256 hashes: logging in, registering and updating people', { timeout: 60_000 }, async () => {
    const PASSWORD = 'plain-Ikanow-Passw0rd-42';
    const sim = await startIkanowSimulator({ username: 'admin@ikanow.example', password: PASSWORD, people: [{ email: 'known@example.org', first_name: 'Known' }] });
    const proxy = await startFaultProxy(sim.url, { record: true });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-ikanow-pw-'));
    try {
      const config = loadConfig({
        env: {},
        overrides: { connections: { ik: { kind: 'ikanow', baseUrl: proxy.url, credentials: { username: 'admin@ikanow.example', password: PASSWORD } } } },
      });
      writeFileSync(path.join(dir, 'p.csv'), 'email,first_name,last_name\nknown@example.org,Known,Again\nnew1@example.org,New,One\nnew2@example.org,New,Two\n');
      await importFile(path.join(dir, 'p.csv'), { db: db.knex, config, log: quiet });
      await pullConnection('ik', { db: db.knex, config, log: quiet });
      const pushed = await pushConnection('ik', { db: db.knex, config, log: quiet });
      expect(pushed).toMatchObject({ created: 2, updated: 1, failed: 0 });

      const sent = proxy.seen.map((r) => `${r.method} ${r.url}\n${JSON.stringify(r.headers)}\n${r.body}`);
      expect(sent.some((r) => r.includes('/social/person/register'))).toBe(true);
      expect(sent.some((r) => r.includes(encodeURIComponent(hashPassword(PASSWORD))))).toBe(true);
      for (const r of sent) {
        expect(r).not.toContain(PASSWORD);
        expect(r).not.toContain(encodeURIComponent(PASSWORD));
      }
      // every password field sent is a SHA-256/base64 hash
      for (const r of proxy.seen.filter((x) => x.url.includes('register'))) {
        expect((JSON.parse(r.body) as { auth: { password: string } }).auth.password).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      }
      expect(sim.state.plainPasswords).toBe(0);
    } finally {
      await proxy.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
