/**
 * The worker's admin HTTP server (off unless `admin.port` is set):
 *
 * - `GET /healthz` — PostgreSQL and the queue backend; 200 when both answer, else 503.
 *   No token: load balancers and orchestrators call it.
 * - `GET /metrics` — Prometheus text.
 * - `POST /jobs/<name>` — queue a one-off run of a job definition; 202 with the job id.
 * - `/review` — the review page (src/server/review), when the worker mounts it; its own
 *   sign-in (the same token) and session cookie.
 *
 * All but /healthz need `Authorization: Bearer $MEMBER_SYNC_ADMIN_TOKEN` (401 otherwise);
 * without a token configured they answer 404, as if they did not exist. There is no
 * /admin/queues dashboard: bull-board is not a dependency (see the README).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError, describeError } from '../errors.js';
import { redact, type Logger } from '../log.js';
import { bearerMatches } from './bearer.js';
import type { ReviewHandler } from './review/routes.js';
import { serveReview } from './review/serve.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  /** MEMBER_SYNC_ADMIN_TOKEN; without it only /healthz answers */
  token?: string;
  log: Logger;
  registry: Registry;
  /** backend kind, for /healthz */
  backend: string;
  health(): Promise<Record<string, string>>;
  enqueue(name: string): Promise<{ id?: string }>;
  /** the review page at /review (needs `token`) */
  review?: ReviewHandler;
}

export interface AdminServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', ...headers });
  res.end(text);
}

async function route(req: http.IncomingMessage, res: http.ServerResponse, opts: AdminServerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const method = req.method ?? 'GET';
  if (url.pathname === '/healthz') {
    if (method !== 'GET' && method !== 'HEAD') return send(res, 405, { error: 'GET only' }, { allow: 'GET' });
    const checks = await opts.health();
    const ok = Object.values(checks).every((v) => v === 'ok');
    return send(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unhealthy', backend: opts.backend, ...checks });
  }
  const jobMatch = /^\/jobs\/([^/]+)$/.exec(url.pathname);
  if (url.pathname !== '/metrics' && !jobMatch) return send(res, 404, { error: 'not found' });
  if (!opts.token) return send(res, 404, { error: 'not found (set MEMBER_SYNC_ADMIN_TOKEN to enable)' });
  if (!bearerMatches(req.headers.authorization, opts.token)) {
    return send(res, 401, { error: 'a valid Authorization: Bearer token is required' }, { 'www-authenticate': 'Bearer' });
  }
  if (url.pathname === '/metrics') {
    if (method !== 'GET') return send(res, 405, { error: 'GET only' }, { allow: 'GET' });
    const text = await opts.registry.metrics();
    res.writeHead(200, { 'content-type': opts.registry.contentType });
    return void res.end(text);
  }
  if (method !== 'POST') return send(res, 405, { error: 'POST only' }, { allow: 'POST' });
  let name: string;
  try {
    name = decodeURIComponent(jobMatch![1]);
  } catch {
    // a malformed %-escape names no job (it used to answer 500 and log an error)
    return send(res, 404, { error: 'no such job' });
  }
  try {
    const job = await opts.enqueue(name);
    opts.log.info({ job: name, jobId: job.id }, 'job queued through the admin server');
    return send(res, 202, { job_id: job.id, name });
  } catch (err) {
    if (err instanceof ConfigError) return send(res, /^no job /.test(err.message) ? 404 : 422, { error: redact(err.message) });
    throw err;
  }
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    const p = (req.url ?? '/').split('?')[0];
    if (opts.review && opts.token && (p === '/review' || p.startsWith('/review/'))) return serveReview(opts.review, req, res, opts.log);
    // the body is never needed: drain it so keep-alive works
    req.resume();
    route(req, res, opts).catch((err) => {
      opts.log.error({ err: redact(describeError(err)), url: req.url }, 'admin request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ConfigError(`admin.port: cannot listen on ${opts.host}:${opts.port} (${err.code ?? err.message})`, { cause: err })),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  opts.log.info({ url, auth: Boolean(opts.token) }, 'admin server listening');
  return {
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
