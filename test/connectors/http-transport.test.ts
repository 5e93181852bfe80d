/**
 * The HTTP exchange under the client (src/http/transport.ts, got 14), against real
 * loopback servers: compressed answers, an answer cut off half-way, a timeout, our own
 * abort, keep-alive sockets reused across requests — and hostile servers: a huge body
 * (declared and undeclared), a gzip bomb, a slow drip.
 */
import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransport, type Transport } from '../../src/http/transport.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

export async function serve(handler: http.RequestListener): Promise<{ url: string; sockets: Set<unknown> }> {
  const sockets = new Set<unknown>();
  const server = http.createServer(handler);
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

function transport(baseUrl: string, more: { timeoutMs?: number; maxResponseBytes?: number } = {}): Transport {
  const t = createTransport({ baseUrl, maxSockets: 2, ...more });
  cleanups.push(() => t.close());
  return t;
}

const failure = (p: Promise<unknown>): Promise<Error & { code?: string }> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error & { code?: string }) => e,
  );

const get = (t: Transport, url: string, signal?: AbortSignal) => t.exchange({ method: 'GET', url: new URL(url), headers: {}, signal });

describe('http transport (got)', () => {
  it('sends the body with its length and decodes gzip, deflate and br answers', async () => {
    const seen: Array<{ body: string; length?: string; accept?: string }> = [];
    const srv = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ body: Buffer.concat(chunks).toString(), length: req.headers['content-length'], accept: req.headers['accept-encoding'] });
        const text = JSON.stringify({ path: req.url, é: 'ü' });
        const enc = String(req.url).slice(1);
        const body = enc === 'gzip' ? zlib.gzipSync(text) : enc === 'deflate' ? zlib.deflateSync(text) : enc === 'br' ? zlib.brotliCompressSync(text) : Buffer.from(text);
        res.writeHead(201, { 'content-type': 'application/json', ...(enc ? { 'content-encoding': enc } : {}) });
        res.end(body);
      });
    });
    const t = transport(srv.url);
    for (const enc of ['', 'gzip', 'deflate', 'br']) {
      const answer = await t.exchange({ method: 'POST', url: new URL(`${srv.url}/${enc}`), headers: { 'content-type': 'text/plain' }, body: 'héllo' });
      expect(answer.status).toBe(201);
      expect(JSON.parse(answer.text)).toEqual({ path: `/${enc}`, é: 'ü' });
    }
    expect(seen[0]).toMatchObject({ body: 'héllo', length: String(Buffer.byteLength('héllo')) });
    expect(seen[0].accept).toMatch(/gzip/);
    // keep-alive: four exchanges, one at a time, over one socket
    expect(srv.sockets.size).toBe(1);
  });

  it('rejects with ECONNRESET when the answer is cut off half-way', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const err = await failure(get(transport(srv.url), `${srv.url}/x`));
    expect(err.code).toBe('ECONNRESET');
  });

  it('rejects with ETIMEDOUT when the whole exchange takes longer than timeoutMs', async () => {
    const srv = await serve(() => undefined);
    const err = await failure(get(transport(srv.url, { timeoutMs: 50 }), `${srv.url}/x`));
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toMatch(/^Timeout awaiting '(request|response)' for 50ms$/);
  });

  it("rejects with the signal's reason when aborted, before or during the exchange", async () => {
    const srv = await serve(() => undefined);
    const t = transport(srv.url);
    const ac = new AbortController();
    const pending = failure(get(t, `${srv.url}/x`, ac.signal));
    setTimeout(() => ac.abort(new Error('stop now')), 20);
    expect((await pending).message).toBe('stop now');
    expect((await failure(get(t, `${srv.url}/x`, ac.signal))).message).toBe('stop now');
  });

  it('leaves no abort listener behind on a signal shared by many exchanges', async () => {
    const srv = await serve((_req, res) => res.end('{}'));
    const t = transport(srv.url);
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) await get(t, `${srv.url}/x`, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('cuts a slow drip (a byte at a time, never idle for long) at timeoutMs for the whole exchange', async () => {
    let timer: NodeJS.Timeout | undefined;
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      timer = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(timer));
    });
    cleanups.push(() => clearInterval(timer));
    const started = Date.now();
    const err = await failure(get(transport(srv.url, { timeoutMs: 300 }), `${srv.url}/drip`));
    expect(err.code).toBe('ETIMEDOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses an answer whose Content-Length is over maxResponseBytes before reading it', async () => {
    let written = 0;
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(1 << 30) });
      const chunk = Buffer.alloc(64 * 1024, 97);
      const pump = (): void => {
        while (!res.destroyed && written < 1 << 30 && res.write(chunk)) written += chunk.length;
        if (!res.destroyed && written < 1 << 30) res.once('drain', pump);
      };
      pump();
    });
    const err = await failure(get(transport(srv.url, { maxResponseBytes: 1024 * 1024 }), `${srv.url}/huge`));
    expect(err.code).toBe('E_RESPONSE_TOO_LARGE');
    expect(err.message).toContain('http.maxResponseBytes (1048576 bytes)');
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('stops a huge chunked answer (no Content-Length) at maxResponseBytes', async () => {
    let written = 0;
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 97);
      const pump = (): void => {
        while (!res.destroyed && written < 1 << 30 && res.write(chunk)) written += chunk.length;
        if (!res.destroyed && written < 1 << 30) res.once('drain', pump);
      };
      pump();
    });
    const err = await failure(get(transport(srv.url, { maxResponseBytes: 2 * 1024 * 1024 }), `${srv.url}/huge`));
    expect(err.code).toBe('E_RESPONSE_TOO_LARGE');
    // the reader stopped: the server could not push the whole gigabyte
    expect(written).toBeLessThan(256 * 1024 * 1024);
  });

  it('stops a gzip bomb: the cap counts bytes after decompression', async () => {
    // 8 MB of zeros per member of the stream, about 8 KB compressed; 64 members = 512 MB unpacked
    const block = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024), { level: 9 });
    let sent = 0;
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(block.length * 64) });
      const pump = (): void => {
        while (!res.destroyed && sent < 64 && res.write(block)) sent++;
        if (!res.destroyed && sent < 64) res.once('drain', pump);
        else if (!res.destroyed) res.end();
      };
      pump();
    });
    // the compressed size passes the cap: only the decompressed count can stop it
    expect(block.length * 64).toBeLessThan(4 * 1024 * 1024);
    const before = process.memoryUsage().rss;
    const err = await failure(get(transport(srv.url, { maxResponseBytes: 4 * 1024 * 1024 }), `${srv.url}/bomb`));
    expect(err.code).toBe('E_RESPONSE_TOO_LARGE');
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
  });
});
