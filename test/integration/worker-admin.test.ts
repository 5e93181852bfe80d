/** The admin HTTP server on loopback: health, metrics, queueing a job, and its bearer token. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { log } from '../../src/log.js';
import { createMetrics } from '../../src/queue/metrics.js';
import { startAdminServer, type AdminServer } from '../../src/server/admin.js';
import { bearerMatches } from '../../src/server/bearer.js';

const TOKEN = 'admin-token-for-tests';
const queued: string[] = [];
let healthy = true;
const metrics = createMetrics(async () => ({ waiting: 3, active: 1 }));
metrics.recordResults([{ step: 'import', file: 'a.csv', run_id: 1, rows: 10, created: 7, updated: 1, unchanged: 0, conflicts: 1, rejected: 1 }]);

function server(token?: string): Promise<AdminServer> {
  return startAdminServer({
    host: '127.0.0.1',
    port: 0,
    token,
    log,
    registry: metrics.registry,
    backend: 'postgres',
    health: async () => ({ postgres: 'ok', queue: healthy ? 'ok' : 'connect ECONNREFUSED' }),
    enqueue: async (name) => {
      if (name !== 'nightly') throw new ConfigError(`no job '${name}' in ./jobs; jobs: nightly`);
      queued.push(name);
      return { id: String(queued.length) };
    },
  });
}

let withToken: AdminServer;
let withoutToken: AdminServer;
beforeAll(async () => {
  withToken = await server(TOKEN);
  withoutToken = await server(undefined);
});
afterAll(async () => {
  await withToken?.close();
  await withoutToken?.close();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('admin server', () => {
  it('answers /healthz without a token: 200 when everything answers, 503 otherwise', async () => {
    const ok = await fetch(`${withToken.url}/healthz`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok', backend: 'postgres', postgres: 'ok', queue: 'ok' });
    healthy = false;
    const bad = await fetch(`${withoutToken.url}/healthz`);
    healthy = true;
    expect(bad.status).toBe(503);
    expect(await bad.json()).toMatchObject({ status: 'unhealthy', queue: 'connect ECONNREFUSED' });
  });

  it('refuses /metrics and /jobs with a missing or wrong token (401)', async () => {
    for (const headers of [{}, bearer('wrong'), bearer(`${TOKEN}x`), { authorization: TOKEN }, bearer('')]) {
      const m = await fetch(`${withToken.url}/metrics`, { headers });
      expect(m.status).toBe(401);
      expect(m.headers.get('www-authenticate')).toBe('Bearer');
      const j = await fetch(`${withToken.url}/jobs/nightly`, { method: 'POST', headers });
      expect(j.status).toBe(401);
    }
    expect(queued).toEqual([]);
  });

  it('serves Prometheus metrics with the token', async () => {
    const m = await fetch(`${withToken.url}/metrics`, { headers: bearer(TOKEN) });
    expect(m.status).toBe(200);
    const text = await m.text();
    expect(text).toMatch(/member_sync_records_read_total\{kind="import",source="file"\} 10/);
    expect(text).toMatch(/member_sync_records_total\{kind="import",source="file",outcome="rejected"\} 1/);
    expect(text).toMatch(/member_sync_queue_jobs\{state="waiting"\} 3/);
    expect(text).toMatch(/# TYPE member_sync_job_duration_seconds histogram/);
    expect(text).toMatch(/# TYPE member_sync_pushes_total counter/);
  });

  it('queues a job with POST /jobs/<name>; an unknown job is 404', async () => {
    const r = await fetch(`${withToken.url}/jobs/nightly`, { method: 'POST', headers: bearer(TOKEN) });
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ job_id: '1', name: 'nightly' });
    const unknown = await fetch(`${withToken.url}/jobs/nope`, { method: 'POST', headers: bearer(TOKEN) });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/no job 'nope'/);
    expect((await fetch(`${withToken.url}/jobs/nightly`, { headers: bearer(TOKEN) })).status).toBe(405);
  });

  it('has the protected routes off when no token is configured', async () => {
    expect((await fetch(`${withoutToken.url}/metrics`, { headers: bearer('anything') })).status).toBe(404);
    expect((await fetch(`${withoutToken.url}/jobs/nightly`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${withoutToken.url}/admin/queues`)).status).toBe(404);
  });

  it('compares the bearer token exactly', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
  });
});
