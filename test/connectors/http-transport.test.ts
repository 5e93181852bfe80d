/**
 * The HTTP exchange under the client (src/http/transport.ts), against real loopback
 * servers: compressed answers, an answer cut off half-way, a timeout, our own abort, and
 * keep-alive sockets reused across requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgents, exchange, type Agents } from '../../src/http/transport.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function serve(handler: http.RequestListener): Promise<{ url: string; sockets: Set<unknown> }> {
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

function agents(): Agents {
  const a = createAgents(2);
  cleanups.push(() => {
    a.http.destroy();
    a.https.destroy();
  });
  return a;
}

const failure = (p: Promise<unknown>): Promise<Error & { code?: string }> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error & { code?: string }) => e,
  );

describe('http transport', () => {
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
    const a = agents();
    for (const enc of ['', 'gzip', 'deflate', 'br']) {
      const answer = await exchange({ method: 'POST', url: new URL(`${srv.url}/${enc}`), headers: { 'content-type': 'text/plain' }, body: 'héllo', timeoutMs: 5000 }, a);
      expect(answer.status).toBe(201);
      expect(JSON.parse(answer.text)).toEqual({ path: `/${enc}`, é: 'ü' });
    }
    expect(seen[0]).toEqual({ body: 'héllo', length: String(Buffer.byteLength('héllo')), accept: 'gzip, deflate, br' });
    // keep-alive: four exchanges, one at a time, over one socket
    expect(srv.sockets.size).toBe(1);
  });

  it('rejects with ECONNRESET when the answer is cut off half-way', async () => {
    const srv = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const err = await failure(exchange({ method: 'GET', url: new URL(`${srv.url}/x`), headers: {}, timeoutMs: 5000 }, agents()));
    expect(err.code).toBe('ECONNRESET');
  });

  it('rejects with ETIMEDOUT when the whole exchange takes longer than timeoutMs', async () => {
    const srv = await serve(() => undefined);
    const err = await failure(exchange({ method: 'GET', url: new URL(`${srv.url}/x`), headers: {}, timeoutMs: 50 }, agents()));
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toBe("Timeout awaiting 'request' for 50ms");
  });

  it("rejects with the signal's reason when aborted, before or during the exchange", async () => {
    const srv = await serve(() => undefined);
    const ac = new AbortController();
    const pending = failure(exchange({ method: 'GET', url: new URL(`${srv.url}/x`), headers: {}, timeoutMs: 5000, signal: ac.signal }, agents()));
    setTimeout(() => ac.abort(new Error('stop now')), 20);
    expect((await pending).message).toBe('stop now');
    expect((await failure(exchange({ method: 'GET', url: new URL(`${srv.url}/x`), headers: {}, timeoutMs: 5000, signal: ac.signal }, agents()))).message).toBe('stop now');
  });
});
