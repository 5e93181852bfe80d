/**
 * One HTTP exchange, made with got 14: keep-alive agents (through a proxy when
 * HTTPS_PROXY / HTTP_PROXY name one and NO_PROXY does not exempt the host, proxy.ts),
 * per-phase timeouts, decompression, and a cap on the size of the answer counted after
 * decompression, so that neither a huge body nor a gzip bomb fills the memory. Any failure
 * — a timeout, a reset, a refused connection, our own abort, the cap — rejects with a
 * plain Error carrying a `code`. No retries, no redirects, no status checks: the client
 * above decides all of that.
 *
 * Cheap per request on purpose (thousands a second): one got instance per connection,
 * made once with everything that does not change; a request passes only its method, URL,
 * headers, body and signal; no hooks. got's stream interface, read here, skips the
 * promise interface's second pass over the options and its body buffering.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { got, type Got, type Method } from 'got';
import { agentsFor, type Agents } from './proxy.js';

export type { Agents } from './proxy.js';

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface TransportOptions {
  /** the connection's base URL: decides the proxy, once */
  baseUrl: string;
  /** sockets per origin */
  maxSockets: number;
  /** the whole exchange, from the request to the last byte of the answer @defaultValue 30000 */
  timeoutMs?: number;
  /** answer bytes after decompression @defaultValue 52428800 (50 MB) */
  maxResponseBytes?: number;
  /** sent with every request (set once in the got instance, not merged per request) */
  headers?: Record<string, string>;
}

export interface Transport {
  exchange(x: Exchange): Promise<Answer>;
  readonly agents: Agents;
  /** the proxy in use, credentials removed; undefined when none */
  readonly proxy?: string;
  close(): void;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 50 * 1024 * 1024;

/** Connection set-up phases get at most this long each, whatever the whole budget. */
const SETUP_PHASE_MS = 10_000;

const coded = (message: string, code: string): Error => Object.assign(new Error(message), { code });

export function createTransport(opts: TransportOptions): Transport {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const cap = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const { agents, proxy } = agentsFor(opts.baseUrl, opts.maxSockets);
  const setup = Math.min(timeoutMs, SETUP_PHASE_MS);
  const instance: Got = got.extend({
    agent: { http: agents.http, https: agents.https },
    // lookup, connect and TLS fail fast; the rest — sending, waiting, a slow drip — is cut
    // by `request`, the whole budget (a `send`/`response` timer each would only cost CPU)
    timeout: { lookup: setup, connect: setup, secureConnect: setup, request: timeoutMs },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    decompress: true,
    http2: false,
    headers: opts.headers,
  });

  function exchange(x: Exchange): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      if (x.signal?.aborted) return reject(x.signal.reason instanceof Error ? x.signal.reason : coded('aborted', 'ABORT_ERR'));
      // our own abort listener, not got's `signal`: got removes its listener only when the
      // stream is destroyed, which a fully read answer never is (one listener a request)
      const stream = instance.stream(x.url, { method: x.method as Method, headers: x.headers, body: x.body });
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        x.signal?.removeEventListener('abort', onAbort);
        stream.destroy();
        reject(err);
      };
      const onAbort = (): void => fail(x.signal?.reason instanceof Error ? x.signal.reason : coded('aborted', 'ABORT_ERR'));
      x.signal?.addEventListener('abort', onAbort, { once: true });
      const tooLarge = (): Error => coded(`the answer is larger than http.maxResponseBytes (${cap} bytes)`, 'E_RESPONSE_TOO_LARGE');
      stream.on('response', (res: { statusCode: number; headers: IncomingHttpHeaders }) => {
        status = res.statusCode;
        headers = res.headers;
        // an honest Content-Length over the cap is refused before reading (it is the compressed size)
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > cap) fail(tooLarge());
      });
      // chunks come decompressed: the cap counts what would land in memory
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > cap) fail(tooLarge());
        else chunks.push(c);
      });
      stream.on('error', (err: Error) => fail(err));
      stream.on('end', () => {
        if (settled) return;
        settled = true;
        x.signal?.removeEventListener('abort', onAbort);
        resolve({ status, headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
  }

  return {
    exchange,
    agents,
    proxy,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
