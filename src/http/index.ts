/**
 * src/http — the HTTP concerns every connector shares (STYLE.md rule 3). A connector
 * configures these; it does not re-implement them.
 *
 * CLIENT (client.ts)
 *   const client = clientForConnection(ctx, { decodeError, headers?, authorize?, retry? });
 *     One client per connection config object (cached), so pulls and pushes share the
 *     limiter and keep-alive sockets. Or `createHttpClient({ connection, baseUrl,
 *     timeoutMs, rateLimit, retry, decodeError, headers, authorize, log, random })` for a
 *     private one (tests; call `client.close()` when done).
 *   const res = await client.request<T>({ method: 'POST', path: 'site/SRConsAPI',
 *       searchParams?, form? | json? | body?, headers?, signal?, counter?, retry? });
 *     res: { status, headers, text, json: T, attempts }. Resolves only on success; any
 *     failure rejects with an UpstreamError (errors.ts) whose kind says what happened, or
 *     its subclass ConnectionError (code E_CONNECTION, `failure` auth | dns | tls | format)
 *     when the connection itself failed: never retried, it stops a pull or push.
 *   - exchange (transport.ts): got 14, one instance per client, its stream read here; got's
 *     own retry and redirects are off. Keep-alive agents, through the proxy that
 *     HTTPS_PROXY / HTTP_PROXY name unless NO_PROXY exempts the host (proxy.ts: hpagent +
 *     proxy-from-env). An answer over `maxResponseBytes` (http.maxResponseBytes, default
 *     50 MB), counted after decompression, is refused (a gzip bomb stops there).
 *   - timeout: `timeoutMs` for the whole attempt (a slow drip is cut there); DNS lookup,
 *     connect and TLS at most 10 s each.
 *   - redirects: followed within the base URL's origin only, at most 3, each hop signed
 *     afresh (`authorize`); 307/308 keep method and body, 303 becomes a GET, a 301/302 of
 *     a POST is refused. Another origin, a loop or a Location-less 3xx: ConnectionError.
 *   - rate limit: `{ perSecond, concurrency }` per client; perSecond 0 = unlimited.
 *   - retries: `decideRetry` (retry.ts) alone decides: 429, 5xx, 408, timeouts, resets,
 *     refused connections and socket hang-ups retry with exponential backoff + jitter up
 *     to `maxAttempts` (default 4 in total); Retry-After (seconds or HTTP-date) wins over
 *     backoff; a Retry-After above `maxRetryAfterMs` is returned to the caller instead.
 *     Other 4xx never retry. `retry: { maxAttempts: 1 }` on a call turns retries off.
 *   - a create the remote does not dedupe: `retryUnlessApplied({ send, applied, policy:
 *     client.retryPolicy })` (retry.ts) sends it once per attempt and, before sending it
 *     again after a timeout, reset or 5xx, asks `applied()` whether the lost attempt took
 *     effect (a lookup); what that finds is the result.
 *   - counting: `client.requests` is every attempt this client sent; pass
 *     `counter: { requests: 0 }` to count the attempts of one unit of work (a push).
 *   - errors: `decodeError(raw)` sees EVERY response, 2xx included (IKANOW's
 *     success=false arrives as 200); it returns `{ kind, message, remoteCode? }` (or a
 *     ready UpstreamError) for a failure, or undefined for "not an error / use the
 *     default", which maps status >= 400 by `kindForStatus` (401/403 auth, 404 not_found,
 *     409 duplicate, 400/422 validation, 429 rate_limited, 408 network, 5xx server). `raw.json`
 *     is parsed whatever the Content-Type (Vocdoni sends JSON as text/plain).
 *   - authorize(req) runs before every attempt with the exact method, URL (with query) and
 *     form fields; returned headers are added. `oauth1Authorizer(creds, { profile })`
 *     is one.
 *
 * ERRORS (upstream.ts): `upstreamFromResponse`, `upstreamFromNetwork`, `notTheFormat`
 *   (the ConnectionError for an answer that is not the system's), `safeMessage`
 *   (redacts registered secrets, strips URL query strings, caps length). Errors never
 *   carry headers, form bodies or query strings.
 *
 * PAGINATION (paginate.ts): async generators that yield one page plus where to resume:
 *   paginatePages({ fetchPage(page) => { items, lastPage? }, startPage?, pageSize? })
 *   paginateOffset({ fetch(offset, limit) => items, limit, startOffset? })
 *   paginateCursor({ fetch(cursor) => { items, next? }, start? })
 *
 * OAUTH 1.0a (oauth1.ts): HMAC-SHA1. `oauth1Params`, `oauth1Header(creds, { method, url,
 *   form? }, { profile, realm?, nonce?, timestamp? })`, `oauth1Authorizer`, and
 *   `verifyOAuth1Request({ method, url, headers, form? }, { profile, consumerSecret(key),
 *   tokenSecret(token), maxSkewSeconds? })` for simulators. profile 'gnoss' signs with
 *   GET, the URL without query and only oauth_* params (API-NOTES.md §3).
 *
 * SIMULATORS (sim-server.ts): `startSimServer({ host, port, faults, routeKey?, handle })`
 *   returns { url, requests, setFaults, close } (the SimulatorHandle shape): body read and
 *   parsed (`params` = query + form, `json`), requests counted by route, faults injected
 *   from a seeded sequence. `send(res, status, body, contentType)`, `seededRandom(seed)`.
 */
export * from './client.js';
export * from './oauth1.js';
export * from './paginate.js';
export * from './rate-limiter.js';
export * from './retry.js';
export * from './sim-server.js';
export * from './upstream.js';
