/**
 * The HTTP client a connector gets for one connection: keep-alive agents and a timeout
 * per attempt (transport.ts), behind a rate limiter and one retry loop, so that
 * `decideRetry` is the only place a retry is decided.
 */
import type { ConnectionConfig } from '../config/schema.js';
import { UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import { RateLimiter, sleep, type RateLimit } from './rate-limiter.js';
import { DEFAULT_RETRY_POLICY, decideRetry, type RetryPolicy } from './retry.js';
import { createAgents, exchange } from './transport.js';
import { upstreamFromNetwork, upstreamFromResponse, type ErrorDecoder, type RawResponse } from './upstream.js';

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

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { connection } = options;
  const base = options.baseUrl.replace(/\/+$/, '');
  const limit = options.rateLimit ?? { perSecond: 0, concurrency: 4 };
  const limiter = new RateLimiter(limit);
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const random = options.random ?? Math.random;
  const agents = createAgents(Math.max(1, limit.concurrency));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const baseHeaders: Record<string, string> = { 'user-agent': 'member-sync', ...options.headers };
  let requests = 0;
  // the connection's name once per line: a connector's logger already carries it
  const log = options.log && ('connection' in options.log.bindings() ? options.log : options.log.child({ connection }));

  const url = (path: string): string => `${base}/${path.replace(/^\/+/, '')}`;

  async function attempt(opts: HttpRequestOptions, signal?: AbortSignal): Promise<RawResponse> {
    const method = (opts.method ?? 'GET').toUpperCase() as Method;
    const target = new URL(url(opts.path));
    if (opts.searchParams) for (const [k, v] of flatten(opts.searchParams)) target.searchParams.append(k, v);
    const headers: Record<string, string> = { ...baseHeaders, ...opts.headers };
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
    if (options.authorize) {
      const form = pairs ? Object.fromEntries(pairs) : undefined;
      Object.assign(headers, await options.authorize({ method, url: target.toString(), form, headers: { ...headers } }));
    }
    requests++;
    if (opts.counter) opts.counter.requests++;
    const res = await exchange({ method, url: target, headers, body, timeoutMs, signal }, agents);
    return { status: res.status, headers: res.headers, text: res.text, json: parseJson(res.text) };
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
        if (decoded instanceof UpstreamError) failure = decoded;
        else if (decoded) failure = upstreamFromResponse(connection, raw, decoded);
        else if (raw.status >= 400) failure = upstreamFromResponse(connection, raw);
        else return { ...raw, json: raw.json as T, attempts: n };
      } catch (err) {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
        failure = upstreamFromNetwork(connection, err);
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
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** The parts of a configured connection the client needs. */
export interface ConnectionRef {
  name: string;
  config: Pick<ConnectionConfig, 'baseUrl' | 'timeoutMs' | 'rateLimit'>;
  log?: Logger;
}

const shared = new WeakMap<object, HttpClient>();

/**
 * One client per connection config object, so that every pull and push of a connection
 * shares its rate limiter and sockets. `extra` is only read the first time.
 */
export function clientForConnection(
  conn: ConnectionRef,
  extra: Omit<HttpClientOptions, 'connection' | 'baseUrl' | 'timeoutMs' | 'rateLimit'> = {},
): HttpClient {
  const existing = shared.get(conn.config);
  if (existing) return existing;
  const client = createHttpClient({
    connection: conn.name,
    baseUrl: conn.config.baseUrl,
    timeoutMs: conn.config.timeoutMs,
    rateLimit: conn.config.rateLimit,
    log: conn.log,
    ...extra,
  });
  shared.set(conn.config, client);
  return client;
}
