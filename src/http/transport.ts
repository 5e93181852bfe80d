/**
 * One HTTP exchange over node:http / node:https with keep-alive agents: the request is
 * written in one go, the whole answer is read as text (gzip, deflate and br decoded), and
 * any failure — a timeout, a reset, a refused connection, our own abort — rejects with a
 * plain Error carrying node's `code`. No retries, no redirects, no status checks: the
 * client above decides all of that. (got did this before; at thousands of requests a
 * second its per-request option merging, hooks and streams cost six times the exchange.)
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';

export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** whole exchange, from the request to the last byte of the answer */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export function createAgents(maxSockets: number): Agents {
  const options = { keepAlive: true, maxSockets };
  return { http: new http.Agent(options), https: new https.Agent(options) };
}

function decoded(res: IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') return res.pipe(zlib.createGunzip());
  if (encoding === 'deflate') return res.pipe(zlib.createInflate());
  if (encoding === 'br') return res.pipe(zlib.createBrotliDecompress());
  return res;
}

const coded = (message: string, code: string): Error => Object.assign(new Error(message), { code });

export function exchange(x: Exchange, agents: Agents): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const secure = x.url.protocol === 'https:';
    const headers: Record<string, string | number> = { 'accept-encoding': 'gzip, deflate, br', ...x.headers };
    if (x.body !== undefined) headers['content-length'] = Buffer.byteLength(x.body);
    let settled = false;
    const finish = (err: Error | undefined, answer?: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      x.signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const onAbort = (): void => finish(x.signal?.reason instanceof Error ? x.signal.reason : coded('aborted', 'ABORT_ERR'));
    const req = (secure ? https : http).request(
      {
        protocol: x.url.protocol,
        hostname: x.url.hostname.replace(/^\[|\]$/g, ''),
        port: x.url.port || undefined,
        path: x.url.pathname + x.url.search,
        method: x.method,
        headers,
        agent: secure ? agents.https : agents.http,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const body = decoded(res);
        body.on('data', (c: Buffer) => chunks.push(c));
        body.on('error', (err) => finish(err));
        body.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        // the connection dropped in the middle of the answer
        res.on('close', () => {
          if (!res.complete) finish(coded('socket hang up', 'ECONNRESET'));
        });
      },
    );
    const timer = setTimeout(() => finish(coded(`Timeout awaiting 'request' for ${x.timeoutMs}ms`, 'ETIMEDOUT')), x.timeoutMs);
    req.on('error', (err) => finish(err));
    if (x.signal) {
      if (x.signal.aborted) return onAbort();
      x.signal.addEventListener('abort', onAbort, { once: true });
    }
    req.end(x.body);
  });
}
