import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/errors.js';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../../src/http/index.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

interface TestServer {
  url: string;
  hits: number;
  maxInFlight: number;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function serve(handler: Handler): Promise<TestServer> {
  let inFlight = 0;
  const state = { hits: 0, maxInFlight: 0 };
  const server = http.createServer((req, res) => {
    state.hits++;
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    const done = (): void => {
      inFlight--;
    };
    res.on('close', done);
    req.resume();
    req.on('end', () => handler(req, res, state.hits));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const handle = {
    url: `http://127.0.0.1:${port}`,
    get hits() {
      return state.hits;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  cleanups.push(handle.close);
  return handle;
}

function client(url: string, extra: Partial<HttpClientOptions> = {}): HttpClient {
  const c = createHttpClient({ connection: 'test-conn', baseUrl: url, timeoutMs: 5000, retry: { baseDelayMs: 1, maxDelayMs: 5 }, ...extra });
  cleanups.push(() => c.close());
  return c;
}

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamError);
  return err as UpstreamError;
}

describe('http client retries', () => {
  it('retries a 429 after its Retry-After and counts both requests', async () => {
    const srv = await serve((_req, res, n) => (n === 1 ? json(res, 429, { error: 'slow down' }, { 'retry-after': '0' }) : json(res, 200, { ok: true })));
    const c = client(srv.url);
    const counter = { requests: 0 };
    const res = await c.request<{ ok: boolean }>({ path: '/things', counter });
    expect(res.json).toEqual({ ok: true });
    expect(res.attempts).toBe(2);
    expect(srv.hits).toBe(2);
    expect(counter.requests).toBe(2);
    expect(c.requests).toBe(2);
  });

  it('returns a Retry-After above the cap to the caller instead of waiting', async () => {
    const srv = await serve((_req, res) => json(res, 429, {}, { 'retry-after': '3600' }));
    const err = await failure(client(srv.url).request({ path: 'x' }));
    expect(err.kind).toBe('rate_limited');
    expect(err.retryAfterMs).toBe(3_600_000);
    expect(srv.hits).toBe(1);
  });

  it('retries 5xx then succeeds', async () => {
    const srv = await serve((_req, res, n) => (n < 3 ? json(res, 503, { error: 'busy' }) : json(res, 200, { n })));
    const res = await client(srv.url).request<{ n: number }>({ method: 'POST', path: 'x', form: { a: '1' } });
    expect(res.json.n).toBe(3);
    expect(srv.hits).toBe(3);
  });

  it('gives up after maxAttempts on a persistent 500', async () => {
    const srv = await serve((_req, res) => json(res, 500, { error: 'boom' }));
    const err = await failure(client(srv.url, { retry: { maxAttempts: 3, baseDelayMs: 1 } }).request({ path: 'x' }));
    expect(err.kind).toBe('server');
    expect(err.status).toBe(500);
    expect(srv.hits).toBe(3);
  });

  it('never retries other 4xx', async () => {
    const srv = await serve((req, res) => json(res, req.url?.startsWith('/missing') ? 404 : 400, { error: 'no' }));
    const c = client(srv.url);
    expect((await failure(c.request({ path: 'missing' }))).kind).toBe('not_found');
    expect((await failure(c.request({ path: 'bad' }))).kind).toBe('validation');
    expect(srv.hits).toBe(2);
  });

  it('retries a reset socket', async () => {
    const srv = await serve((req, res, n) => (n === 1 ? req.socket.destroy() : json(res, 200, { ok: true })));
    const res = await client(srv.url).request({ path: 'x' });
    expect(res.status).toBe(200);
    expect(srv.hits).toBe(2);
  });

  it('retries a timeout as a network error, bounded', async () => {
    const srv = await serve(() => undefined);
    const err = await failure(client(srv.url, { timeoutMs: 100, retry: { maxAttempts: 2, baseDelayMs: 1 } }).request({ path: 'x' }));
    expect(err.kind).toBe('network');
    expect(srv.hits).toBe(2);
  });

  it('reports a refused connection as a network error after bounded attempts', async () => {
    const srv = await serve(() => undefined);
    const url = srv.url;
    await srv.close();
    const counter = { requests: 0 };
    const err = await failure(client(url, { retry: { maxAttempts: 2, baseDelayMs: 1 } }).request({ path: 'x', counter }));
    expect(err.kind).toBe('network');
    expect(err.message).toContain('ECONNREFUSED');
    expect(counter.requests).toBe(2);
  });
});

describe('http client decoding and limits', () => {
  it("uses the connector's decoder on a 200 envelope and does not retry what it calls auth", async () => {
    const srv = await serve((_req, res) => json(res, 200, { response: { success: false, message: 'not logged in' } }));
    const c = client(srv.url, {
      decodeError: (raw) => {
        const env = raw.json as { response?: { success?: boolean; message?: string } };
        return env?.response?.success === false ? { kind: 'auth', message: env.response.message ?? '' } : undefined;
      },
    });
    const err = await failure(c.request({ path: 'x' }));
    expect(err.kind).toBe('auth');
    expect(err.status).toBe(200);
    expect(err.message).toContain('not logged in');
    expect(srv.hits).toBe(1);
  });

  it('parses JSON sent as text/plain', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('{"id":"abc"}\n');
    });
    expect((await client(srv.url).request({ path: 'x' })).json).toEqual({ id: 'abc' });
  });

  it('keeps query strings and secrets out of error messages', async () => {
    const srv = await serve((req, res) => json(res, 400, { echo: `http://h${req.url}` }));
    const err = await failure(client(srv.url).request({ path: 'x', searchParams: { api_key: 'TOPSECRETKEY1' } }));
    expect(err.message).not.toContain('TOPSECRETKEY1');
    expect(JSON.stringify(err)).not.toContain('TOPSECRETKEY1');
  });

  it('never has more requests in flight than the concurrency limit', async () => {
    const srv = await serve((_req, res) => setTimeout(() => json(res, 200, {}), 25));
    const c = client(srv.url, { rateLimit: { perSecond: 0, concurrency: 2 } });
    await Promise.all(Array.from({ length: 10 }, () => c.request({ path: 'x' })));
    expect(srv.hits).toBe(10);
    expect(srv.maxInFlight).toBe(2);
  });

  it('limits to one in flight with concurrency 1 and a per-second rate', async () => {
    const srv = await serve((_req, res) => json(res, 200, {}));
    const c = client(srv.url, { rateLimit: { perSecond: 200, concurrency: 1 } });
    await Promise.all(Array.from({ length: 5 }, () => c.request({ path: 'x' })));
    expect(srv.maxInFlight).toBe(1);
    expect(c.requests).toBe(5);
  });

  it('signs every attempt through authorize', async () => {
    const seen: string[] = [];
    const srv = await serve((req, res, n) => {
      seen.push(String(req.headers.authorization));
      if (n === 1) json(res, 502, {});
      else json(res, 200, {});
    });
    let i = 0;
    await client(srv.url, { authorize: () => ({ authorization: `Sig ${++i}` }) }).request({ path: 'x' });
    expect(seen).toEqual(['Sig 1', 'Sig 2']);
  });
});
