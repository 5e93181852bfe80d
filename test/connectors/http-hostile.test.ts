/**
 * The HTTP client (src/http/client.ts) against hostile and misconfigured servers on
 * loopback: a gzip bomb and a huge body (http.maxResponseBytes), a redirect loop, a
 * redirect to another origin, a redirect within the origin (followed, signed afresh),
 * a proxy from HTTPS_PROXY/HTTP_PROXY and NO_PROXY, a host that does not resolve, TLS
 * spoken to a plain HTTP port. Each failure of the connection itself is a ConnectionError
 * that is never retried.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { ConnectionError, isRetryable } from '../../src/errors.js';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../../src/http/client.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function listen(server: http.Server | https.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function serve(handler: http.RequestListener): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = [];
  const url = await listen(
    http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      handler(req, res);
    }),
  );
  return { url, hits };
}

function client(baseUrl: string, more: Partial<HttpClientOptions> = {}): HttpClient {
  const c = createHttpClient({ connection: 'hostile', baseUrl, timeoutMs: 5000, rateLimit: { perSecond: 0, concurrency: 2 }, retry: { baseDelayMs: 1, maxDelayMs: 2 }, ...more });
  cleanups.push(() => c.close());
  return c;
}

const failure = (p: Promise<unknown>): Promise<Error & Record<string, unknown>> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error & Record<string, unknown>) => e,
  );

function expectConnectionError(err: unknown, failure: string): void {
  expect(err).toBeInstanceOf(ConnectionError);
  expect(err).toMatchObject({ code: 'E_CONNECTION', failure });
  expect(isRetryable(err)).toBe(false);
}

describe('http client against hostile servers', () => {
  it('stops a gzip bomb at maxResponseBytes (counted decompressed), once, without retrying', async () => {
    const block = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024), { level: 9 });
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      let sent = 0;
      const pump = (): void => {
        while (!res.destroyed && sent < 64 && res.write(block)) sent++;
        if (!res.destroyed && sent < 64) res.once('drain', pump);
        else if (!res.destroyed) res.end();
      };
      pump();
    });
    const err = await failure(client(srv.url, { maxResponseBytes: 1024 * 1024 }).request({ path: 'bomb' }));
    expectConnectionError(err, 'format');
    expect(err.message).toContain('http.maxResponseBytes');
    expect(srv.hits).toHaveLength(1);
  });

  it('the default cap is http.maxResponseBytes from the config, 50 MB, carried by every connection', () => {
    const config = loadConfig({ env: {}, overrides: { connections: { a: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1' }, b: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1', maxResponseBytes: 1000 } } } });
    expect(config.http.maxResponseBytes).toBe(50 * 1024 * 1024);
    expect(config.connections.a.maxResponseBytes).toBe(50 * 1024 * 1024);
    expect(config.connections.b.maxResponseBytes).toBe(1000);
    const smaller = loadConfig({ env: {}, overrides: { http: { maxResponseBytes: 4096 }, connections: { a: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1' } } } });
    expect(smaller.connections.a.maxResponseBytes).toBe(4096);
  });

  it('a redirect loop is followed at most 3 times, then a ConnectionError', async () => {
    const srv = await serve((req, res) => {
      res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' });
      res.end();
    });
    const err = await failure(client(srv.url).request({ path: 'a' }));
    expectConnectionError(err, 'format');
    expect(err.message).toMatch(/more than 3 redirects/);
    expect(srv.hits).toEqual(['GET /a', 'GET /b', 'GET /a', 'GET /b']);
  });

  it('a redirect to another origin is not followed: credentials never go there', async () => {
    const elsewhere = await serve((_req, res) => res.end('{}'));
    const srv = await serve((_req, res) => {
      res.writeHead(301, { location: `${elsewhere.url}/steal?token=1` });
      res.end();
    });
    const err = await failure(client(srv.url, { headers: { authorization: 'Bearer hostile-test-token' } }).request({ path: 'api/members' }));
    expectConnectionError(err, 'format');
    expect(err.message).toMatch(/redirects to another origin \(http:\/\/127\.0\.0\.1:\d+\/steal\)/);
    expect(err.message).not.toContain('token=1');
    expect(elsewhere.hits).toEqual([]);
  });

  it('a redirect within the origin is followed, signed afresh, and a 307 keeps the method and body', async () => {
    const bodies: string[] = [];
    const signed: string[] = [];
    const srv = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        signed.push(String(req.headers['x-signed-for']));
        if (req.url === '/old/members') {
          res.writeHead(307, { location: '/v2/members' });
          return res.end();
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ at: req.url, method: req.method }));
      });
    });
    const c = client(srv.url, { authorize: (r) => ({ 'x-signed-for': new URL(r.url).pathname }) });
    const res = await c.request<{ at: string; method: string }>({ method: 'POST', path: 'old/members', json: { a: 1 } });
    expect(res.json).toEqual({ at: '/v2/members', method: 'POST' });
    expect(bodies).toEqual(['{"a":1}', '{"a":1}']);
    expect(signed).toEqual(['/old/members', '/v2/members']);
    expect(c.requests).toBe(2);
  });

  it('a POST answered 301/302 is refused rather than turned into a GET', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(302, { location: '/login' });
      res.end();
    });
    const err = await failure(client(srv.url).request({ method: 'POST', path: 'update', form: { a: '1' } }));
    expectConnectionError(err, 'format');
    expect(srv.hits).toEqual(['POST /update']);
  });

  it('a host that does not resolve is a DNS ConnectionError, not retried', async () => {
    const err = await failure(client('http://member-sync-nowhere.invalid').request({ path: 'x' }));
    expectConnectionError(err, 'dns');
    expect(err.message).toContain('ENOTFOUND');
  });

  it('TLS spoken to a plain HTTP port is a TLS ConnectionError', async () => {
    const srv = await serve((_req, res) => res.end('{}'));
    const err = await failure(client(srv.url.replace('http:', 'https:')).request({ path: 'x' }));
    expectConnectionError(err, 'tls');
    expect(srv.hits).toEqual([]);
  });

  it('a self-signed certificate is a TLS ConnectionError, not retried', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    let hits = 0;
    const server = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (_req, res) => {
      hits++;
      res.end('{}');
    });
    const url = (await listen(server)).replace('http:', 'https:');
    const err = await failure(client(url).request({ path: 'x' }));
    expectConnectionError(err, 'tls');
    expect(err.message).toMatch(/SELF_SIGNED|self-signed/i);
    expect(hits).toBe(0);
  });

  it('honours HTTP_PROXY (CONNECT, credentials redacted from what is shown) and NO_PROXY', async () => {
    const tunnels: string[] = [];
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      tunnels.push(`${req.url} ${req.headers['proxy-authorization'] ? 'auth' : 'no-auth'}`);
      const [host, port] = String(req.url).split(':');
      const upstream = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    const proxyUrl = await listen(proxy);
    const srv = await serve((_req, res) => res.end('{"ok":true}'));
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    cleanups.push(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    for (const k of Object.keys(saved)) delete process.env[k];
    process.env.HTTP_PROXY = proxyUrl.replace('http://', 'http://user:proxy-pass-1234@');
    const via = client(srv.url);
    expect(via.proxy).toBe(proxyUrl);
    expect((await via.request<{ ok: boolean }>({ path: 'x' })).json).toEqual({ ok: true });
    expect(tunnels).toEqual([`${new URL(srv.url).host} auth`]);

    process.env.NO_PROXY = 'localhost,127.0.0.1';
    const direct = client(srv.url);
    expect(direct.proxy).toBeUndefined();
    expect((await direct.request<{ ok: boolean }>({ path: 'y' })).json).toEqual({ ok: true });
    expect(tunnels).toHaveLength(1);
  });
});
