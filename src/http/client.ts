/**
 * The HTTP client a connector gets for one connection: got with keep-alive agents,
 * per-phase timeouts and a cap on the answer (transport.ts), behind a rate limiter and one
 * retry loop, so that `decideRetry` is the only place a retry is decided. Redirects are
 * followed here, within the base URL's origin only and at most MAX_REDIRECTS times, each
 * hop signed afresh by `authorize`; anything else is a ConnectionError.
 */
import type { ConnectionConfig } from '../config/schema.js';
import { ConnectionError, UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import { RateLimiter, sleep, type RateLimit } from './rate-limiter.js';
import { DEFAULT_RETRY_POLICY, decideRetry, type RetryPolicy } from './retry.js';
import { createTransport, type Answer } from './transport.js';
import { connectionLevel, safeMessage, upstreamFromNetwork, upstreamFromResponse, type ErrorDecoder, type RawResponse } from './upstream.js';

type ParamValue = string | number | boolean | undefined | null;
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
export type Params = Record<string, ParamValue | readonly (string | number)[]>;

/** What an `authorize` hook sees: the exact request about to be sent, one attempt. */
export interface OutgoingRequest {
  method: string;
  /** absolute URL, query string included */
  url: string;
  /** form fields when the body is form-encoded */
  form?: Record<string, string>;
  headers: Record<string, string>;
}

export interface HttpClientOptions {
  /** connection name, used in every error */
  connection: string;
  baseUrl: string;
  /** per attempt @defaultValue 30000 */
  timeoutMs?: number;
  /** bytes of one answer, counted after decompression @defaultValue 52428800 (50 MB) */
  maxResponseBytes?: number;
  /** @defaultValue { perSecond: 0, concurrency: 4 } */
  rateLimit?: RateLimit;
  retry?: Partial<RetryPolicy>;
  /** envelope-aware error decoding; without it, any status >= 400 is an error */
  decodeError?: ErrorDecoder;
  /** sent with every request */
  headers?: Record<string, string>;
  /** called before every attempt (so a signature gets a fresh nonce); returns headers to add */
  authorize?: (req: OutgoingRequest) => Record<string, string> | Promise<Record<string, string>>;
  log?: Logger;
  /** jitter source; tests pass a constant */
  random?: () => number;
}

/** Counts the HTTP attempts made on behalf of one unit of work (a push, a page). */
export interface RequestCounter {
  requests: number;
}

export interface HttpRequestOptions {
  /** @defaultValue 'GET' */
  method?: Method;
  /** relative to baseUrl; a leading slash is ignored */
  path: string;
  searchParams?: Params;
  form?: Params;
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  counter?: RequestCounter;
  /** per-call override, e.g. `{ maxAttempts: 1 }` */
  retry?: Partial<RetryPolicy>;
}

export interface HttpResponse<T = unknown> extends RawResponse {
  json: T;
  /** attempts this call took (1 = no retry) */
  attempts: number;
}

export interface HttpClient {
  readonly connection: string;
  readonly baseUrl: string;
  /** HTTP attempts sent by this client so far, retries included */
  readonly requests: number;
  /** limiter introspection, for tests */
  readonly limiter: RateLimiter;
  /** the retry policy of this client's calls (for `retryUnlessApplied`) */
  readonly retryPolicy: Readonly<RetryPolicy>;
  /** one call with retries; resolves with a success, rejects with an UpstreamError */
  request<T = unknown>(opts: HttpRequestOptions): Promise<HttpResponse<T>>;
  /** the absolute URL for a path (no query), e.g. for signing elsewhere */
  url(path: string): string;
  /** the proxy the requests go through (no credentials), undefined when none */
  readonly proxy?: string;
  /** destroys the keep-alive sockets */
  close(): void;
}

function flatten(params: Params | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const v of value) out.push([key, String(v)]);
    else out.push([key, String(value)]);
  }
  return out;
}

function parseJson(text: string): unknown {
  const t = text.trim();
  if (t === '' || (t[0] !== '{' && t[0] !== '[' && t[0] !== '"')) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

/** Redirects followed for one attempt, each within the base URL's origin. */
export const MAX_REDIRECTS = 3;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { connection } = options;
  const base = options.baseUrl.replace(/\/+$/, '');
  const limit = options.rateLimit ?? { perSecond: 0, concurrency: 4 };
  const limiter = new RateLimiter(limit);
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 30_000;
  // the connection's own headers live in the got instance: each request adds only its own
  const baseHeaders: Record<string, string> = { 'user-agent': 'member-sync', ...options.headers };
  const transport = createTransport({ baseUrl: base, maxSockets: Math.max(1, limit.concurrency), timeoutMs, maxResponseBytes: options.maxResponseBytes, headers: baseHeaders });
  let requests = 0;
  // the connection's name once per line: a connector's logger already carries it
  const log = options.log && ('connection' in options.log.bindings() ? options.log : options.log.child({ connection }));

  const url = (path: string): string => `${base}/${path.replace(/^\/+/, '')}`;

  async function attempt(opts: HttpRequestOptions, signal?: AbortSignal): Promise<RawResponse> {
    let method = (opts.method ?? 'GET').toUpperCase() as Method;
    let target = new URL(url(opts.path));
    if (opts.searchParams) for (const [k, v] of flatten(opts.searchParams)) target.searchParams.append(k, v);
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | undefined = opts.body;
    let pairs: Array<[string, string]> | undefined;
    if (opts.form) {
      pairs = flatten(opts.form);
      body = new URLSearchParams(pairs).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    }
    for (let hop = 0; ; hop++) {
      const sent = options.authorize
        ? { ...headers, ...(await options.authorize({ method, url: target.toString(), form: pairs ? Object.fromEntries(pairs) : undefined, headers: { ...baseHeaders, ...headers } })) }
        : headers;
      requests++;
      if (opts.counter) opts.counter.requests++;
      const res: Answer = await transport.exchange({ method, url: target, headers: sent, body, signal });
      if (!REDIRECTS.has(res.status)) return { status: res.status, headers: res.headers, text: res.text, json: parseJson(res.text) };
      const next = redirectTarget(res, target, method, hop);
      // 303, and 301/302 of a GET: the next hop is a GET without a body (307/308 keep both)
      if (res.status === 303 || method === 'GET' || method === 'HEAD') {
        if (method !== 'HEAD') method = 'GET';
        if (body !== undefined) {
          body = undefined;
          pairs = undefined;
          delete headers['content-type'];
        }
      }
      target = next;
    }
  }

  /** Where a redirect leads, or the ConnectionError that stops following it. */
  function redirectTarget(res: Answer, from: URL, method: string, hop: number): URL {
    const location = res.headers.location;
    const fail = (message: string): ConnectionError => new ConnectionError({ connection, failure: 'format', status: res.status, message: safeMessage(message) });
    if (!location) throw fail(`${from.pathname}: a redirect without a Location`);
    let next: URL;
    try {
      next = new URL(location, from);
    } catch {
      throw fail(`${from.pathname}: a redirect to an unreadable Location`);
    }
    // another origin may be another system: credentials are never sent there (fix baseUrl instead)
    if (next.origin !== from.origin) throw fail(`${from.pathname} redirects to another origin (${next.origin}${next.pathname}); only redirects within ${from.origin} are followed: set baseUrl to where the API is`);
    if (hop >= MAX_REDIRECTS) throw fail(`${from.pathname}: more than ${MAX_REDIRECTS} redirects (a redirect loop?)`);
    // a POST answered 301/302 would become a GET elsewhere: the remote meant a move, say so
    if ((res.status === 301 || res.status === 302) && method !== 'GET' && method !== 'HEAD') {
      throw fail(`${method} ${from.pathname} answered ${res.status} to ${next.pathname}: set baseUrl to where the API is`);
    }
    return next;
  }

  async function request<T>(opts: HttpRequestOptions): Promise<HttpResponse<T>> {
    const callPolicy = opts.retry ? { ...policy, ...opts.retry } : policy;
    const signal = opts.signal;
    for (let n = 1; ; n++) {
      let failure: UpstreamError;
      const release = await limiter.acquire(signal);
      try {
        const raw = await attempt(opts, signal);
        const decoded = options.decodeError?.(raw);
        if (decoded instanceof UpstreamError) failure = connectionLevel(decoded);
        else if (decoded) failure = upstreamFromResponse(connection, raw, decoded);
        else if (raw.status >= 400) failure = upstreamFromResponse(connection, raw);
        else return { ...raw, json: raw.json as T, attempts: n };
      } catch (err) {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
        failure = err instanceof UpstreamError ? err : upstreamFromNetwork(connection, err);
      } finally {
        release();
      }
      const decision = decideRetry(failure, n, callPolicy, random);
      if (!decision.retry) throw failure;
      log?.warn(
        { path: opts.path, attempt: n, delayMs: decision.delayMs, kind: failure.kind, status: failure.status },
        'retrying request',
      );
      await sleep(decision.delayMs, signal);
    }
  }

  return {
    connection,
    baseUrl: base,
    get requests() {
      return requests;
    },
    limiter,
    retryPolicy: policy,
    request,
    url,
    proxy: transport.proxy,
    close() {
      transport.close();
    },
  };
}

/** The parts of a configured connection the client needs. */
export interface ConnectionRef {
  name: string;
  config: Pick<ConnectionConfig, 'baseUrl' | 'timeoutMs' | 'rateLimit'> & { maxResponseBytes?: number };
  log?: Logger;
}

const shared = new WeakMap<object, HttpClient>();

/**
 * One client per connection config object, so that every pull and push of a connection
 * shares its rate limiter and sockets. `extra` is only read the first time.
 */
export function clientForConnection(
  conn: ConnectionRef,
  extra: Omit<HttpClientOptions, 'connection' | 'baseUrl' | 'timeoutMs' | 'rateLimit' | 'maxResponseBytes'> = {},
): HttpClient {
  const existing = shared.get(conn.config);
  if (existing) return existing;
  const client = createHttpClient({
    connection: conn.name,
    baseUrl: conn.config.baseUrl,
    timeoutMs: conn.config.timeoutMs,
    rateLimit: conn.config.rateLimit,
    maxResponseBytes: conn.config.maxResponseBytes,
    log: conn.log,
    ...extra,
  });
  shared.set(conn.config, client);
  return client;
}
