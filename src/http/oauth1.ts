/**
 * OAuth 1.0a HMAC-SHA1 request signing (RFC 5849) and its mirror, a verifier for
 * simulators. The base string and parameter encoding come from the `oauth-1.0a` package;
 * the HMAC from node:crypto.
 *
 * Two profiles, because GNOSS does not sign the way the RFC does (API-NOTES.md §3):
 * - `rfc5849`: base string = real method & URL without query & (oauth params + query
 *   params + form-encoded body params).
 * - `gnoss`: the official wrapper always signs with method "GET", the URL without its
 *   query, and only the oauth_* parameters. The server checks with GET and the full
 *   query first, then again "without extra parameters", so the GNOSS verifier accepts
 *   both; it never accepts a signature made with the real method of a POST.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import OAuth from 'oauth-1.0a';

export type OAuth1Profile = 'rfc5849' | 'gnoss';

export interface OAuth1Credentials {
  consumerKey: string;
  consumerSecret: string;
  token?: string;
  tokenSecret?: string;
}

export interface OAuth1Request {
  method: string;
  /** absolute URL; its query parameters are signed under `rfc5849` */
  url: string;
  /** form-encoded body fields (signed under `rfc5849`); never a JSON body */
  form?: Record<string, string | string[]>;
}

export interface SignOptions {
  /** @defaultValue 'rfc5849' */
  profile?: OAuth1Profile;
  /** goes in the header only; never signed */
  realm?: string;
  /** fixed values, for tests against published examples */
  nonce?: string;
  timestamp?: number;
  /** @defaultValue '1.0' (the spec makes it optional; GNOSS and Twitter send it) */
  version?: string | null;
}

type ParamMap = Record<string, string | string[]>;

function hmacSha1(base: string, key: string): string {
  return createHmac('sha1', key).update(base).digest('base64');
}

function signer(consumerKey: string, consumerSecret: string): OAuth {
  return new OAuth({ consumer: { key: consumerKey, secret: consumerSecret }, signature_method: 'HMAC-SHA1', hash_function: hmacSha1 });
}

/** scheme://host[:port]/path — lower-case host, default port dropped, no query (RFC 5849 §3.4.1.2) */
export function baseUri(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

function addParam(into: ParamMap, key: string, value: string): void {
  const prev = into[key];
  if (prev === undefined) into[key] = value;
  else into[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
}

/** query + form parameters that take part in an RFC 5849 signature (oauth_* excluded) */
function requestParams(req: OAuth1Request): ParamMap {
  const out: ParamMap = {};
  for (const [k, v] of new URL(req.url).searchParams) if (!k.startsWith('oauth_')) addParam(out, k, v);
  for (const [k, v] of Object.entries(req.form ?? {})) {
    if (k.startsWith('oauth_')) continue;
    for (const one of Array.isArray(v) ? v : [v]) addParam(out, k, one);
  }
  return out;
}

/** the signature over `oauthParams` (without oauth_signature) for one request */
function computeSignature(
  creds: Pick<OAuth1Credentials, 'consumerKey' | 'consumerSecret' | 'tokenSecret'>,
  method: string,
  url: string,
  extra: ParamMap,
  oauthParams: Record<string, string>,
): string {
  // the package merges request data into the objects it is handed: give it copies
  const data = { ...oauthParams } as unknown as OAuth.Data;
  return signer(creds.consumerKey, creds.consumerSecret).getSignature({ method, url: baseUri(url), data: { ...extra } }, creds.tokenSecret, data);
}

/** The oauth_* parameters, signature included, for one request. */
export function oauth1Params(creds: OAuth1Credentials, req: OAuth1Request, opts: SignOptions = {}): Record<string, string> {
  const params: Record<string, string> = {
    oauth_consumer_key: creds.consumerKey,
    oauth_nonce: opts.nonce ?? randomBytes(16).toString('hex'),
    oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: String(opts.timestamp ?? Math.floor(Date.now() / 1000)),
  };
  if (creds.token) params.oauth_token = creds.token;
  if (opts.version !== null) params.oauth_version = opts.version ?? '1.0';
  const gnoss = opts.profile === 'gnoss';
  const signature = computeSignature(creds, gnoss ? 'GET' : req.method, req.url, gnoss ? {} : requestParams(req), params);
  return { ...params, oauth_signature: signature };
}

const enc = (s: string): string => OAuth.prototype.percentEncode(s);

/** The `Authorization: OAuth …` header value for one request. */
export function oauth1Header(creds: OAuth1Credentials, req: OAuth1Request, opts: SignOptions = {}): string {
  const params = oauth1Params(creds, req, opts);
  const parts = Object.keys(params)
    .sort()
    .map((k) => `${enc(k)}="${enc(params[k])}"`);
  if (opts.realm !== undefined) parts.unshift(`realm="${opts.realm.replace(/"/g, '')}"`);
  return `OAuth ${parts.join(', ')}`;
}

/** An `authorize` hook for `createHttpClient`: signs every attempt afresh. */
export function oauth1Authorizer(creds: OAuth1Credentials, opts: Omit<SignOptions, 'nonce' | 'timestamp'> = {}) {
  return (req: { method: string; url: string; form?: Record<string, string> }): Record<string, string> => ({
    authorization: oauth1Header(creds, { method: req.method, url: req.url, form: req.form }, opts),
  });
}

/** Parse `Authorization: OAuth k="v", …` into decoded pairs (realm included). */
export function parseOAuthHeader(header: string | undefined): Record<string, string> | undefined {
  if (!header || !/^oauth\s/i.test(header)) return undefined;
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_.~%-]+)\s*=\s*"([^"]*)"/g;
  for (let m = re.exec(header); m; m = re.exec(header)) {
    try {
      out[decodeURIComponent(m[1])] = decodeURIComponent(m[2]);
    } catch {
      return undefined;
    }
  }
  return out;
}

export interface VerifyInput {
  method: string;
  /** absolute URL as received: `http://${req.headers.host}${req.url}` */
  url: string;
  headers: IncomingHttpHeaders;
  /** parsed form body, when the request had one */
  form?: Record<string, string | string[]>;
}

export interface VerifyOptions {
  profile?: OAuth1Profile;
  /** secret for a consumer key, undefined when unknown */
  consumerSecret: (consumerKey: string) => string | undefined;
  /** secret for a token, undefined when unknown */
  tokenSecret: (token: string) => string | undefined;
  /** reject timestamps further than this from now; Infinity turns the check off @defaultValue 300 */
  maxSkewSeconds?: number;
  now?: number;
}

export type VerifyResult = { ok: true; consumerKey: string; token?: string } | { ok: false; reason: string };

function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Check a signed request the way a server would: recompute with the stored secrets. */
export function verifyOAuth1Request(input: VerifyInput, opts: VerifyOptions): VerifyResult {
  const header = parseOAuthHeader(typeof input.headers.authorization === 'string' ? input.headers.authorization : undefined);
  const oauth: Record<string, string> = {};
  // header first; query-string oauth_* parameters are accepted too (GNOSS does)
  for (const [k, v] of new URL(input.url).searchParams) if (k.startsWith('oauth_')) oauth[k] = v;
  for (const [k, v] of Object.entries(header ?? {})) if (k.startsWith('oauth_')) oauth[k] = v;
  const { oauth_signature: signature, ...params } = oauth;
  if (!signature || !params.oauth_consumer_key) return { ok: false, reason: 'missing OAuth parameters' };
  if (params.oauth_signature_method !== 'HMAC-SHA1') return { ok: false, reason: 'unsupported signature method' };
  const consumerSecret = opts.consumerSecret(params.oauth_consumer_key);
  if (consumerSecret === undefined) return { ok: false, reason: 'unknown consumer key' };
  let tokenSecret: string | undefined;
  if (params.oauth_token !== undefined) {
    tokenSecret = opts.tokenSecret(params.oauth_token);
    if (tokenSecret === undefined) return { ok: false, reason: 'unknown token' };
  }
  const maxSkew = opts.maxSkewSeconds ?? 300;
  const now = opts.now ?? Date.now();
  const ts = Number(params.oauth_timestamp);
  if (!Number.isFinite(ts) || Math.abs(now / 1000 - ts) > maxSkew) return { ok: false, reason: 'timestamp out of range' };

  const creds = { consumerKey: params.oauth_consumer_key, consumerSecret, tokenSecret };
  const all = requestParams({ method: input.method, url: input.url, form: input.form });
  const candidates: Array<[string, ParamMap]> =
    opts.profile === 'gnoss'
      ? [
          ['GET', requestParams({ method: 'GET', url: input.url })],
          ['GET', {}],
        ]
      : [[input.method.toUpperCase(), all]];
  for (const [method, extra] of candidates) {
    if (sameSignature(computeSignature(creds, method, input.url, extra, params), signature)) {
      return { ok: true, consumerKey: params.oauth_consumer_key, token: params.oauth_token };
    }
  }
  return { ok: false, reason: 'Invalid OAuth signature' };
}
