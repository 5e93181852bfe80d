/**
 * Turning HTTP failures into `UpstreamError`s. Whatever ends up in an error is safe to
 * log and to store in push_state: registered secrets are redacted, URL query strings
 * (where api keys and passwords travel) are cut, and neither request headers nor form
 * bodies are ever copied in.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ConnectionError, UpstreamError, type ConnectionFailure, type UpstreamKind } from '../errors.js';
import { redact } from '../log.js';
import { parseRetryAfter } from './retry.js';

/** What a connector's error decoder knows about a failure; the client adds the rest. */
export interface DecodedError {
  kind: UpstreamKind;
  message: string;
  remoteCode?: string;
  retryAfterMs?: number;
}

/** The response as an error decoder sees it. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** the body as text */
  text: string;
  /** JSON.parse(text) when it parses (whatever the Content-Type says), else undefined */
  json: unknown;
}

/**
 * A connector's error decoder: looks at every response, 2xx included (IKANOW says "no"
 * with HTTP 200), and returns the failure it carries, or undefined when the response is
 * a success, or when the decoder does not recognise it and the status-based default
 * should apply.
 */
export type ErrorDecoder = (res: RawResponse) => DecodedError | UpstreamError | undefined;

const MAX_MESSAGE = 300;

/** Redact secrets, drop URL query strings and cap the length: safe for logs and the DB. */
export function safeMessage(text: string): string {
  const noQuery = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#]*)\?[^\s#]*/gi, '$1?[query removed]');
  const flat = redact(noQuery).replace(/\s+/g, ' ').trim();
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE)}…` : flat;
}

/** The default kind for an HTTP status when no decoder claimed the response. */
export function kindForStatus(status: number): UpstreamKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 404 || status === 410) return 'not_found';
  if (status === 409) return 'duplicate';
  if (status === 400 || status === 422) return 'validation';
  if (status === 429) return 'rate_limited';
  // the server gave up waiting for our request: a transport problem, retried
  if (status === 408) return 'network';
  if (status >= 500) return 'server';
  return 'other';
}

function retryAfterOf(res: RawResponse): number | undefined {
  return parseRetryAfter(res.headers['retry-after']);
}

/**
 * An auth failure is the connection's, never one member's: the credentials or their rights
 * would fail every other call the same way. Decoders say `auth` only for those (Convio's
 * per-record 403 codes, Vocdoni's 401 quota are other kinds).
 */
export function connectionLevel(err: UpstreamError): UpstreamError {
  if (err instanceof ConnectionError || err.kind !== 'auth') return err;
  const message = err.message.startsWith(`${err.connection}: `) ? err.message.slice(err.connection.length + 2) : err.message;
  return new ConnectionError({ connection: err.connection, failure: 'auth', status: err.status, remoteCode: err.remoteCode, message, cause: err });
}

/** A ConnectionError for an answer that is not the system's (a decoder or a client's shape check). */
export function notTheFormat(connection: string, res: Pick<RawResponse, 'status' | 'headers'> | undefined, what: string): ConnectionError {
  const type = res?.headers['content-type'];
  const got = type ? ` (${String(type).split(';')[0]})` : '';
  return new ConnectionError({ connection, failure: 'format', status: res?.status, message: safeMessage(`${what}${got}: is baseUrl the system's API?`) });
}

/** Build the UpstreamError for a response the decoder (or the status) marks as failed. */
export function upstreamFromResponse(connection: string, res: RawResponse, decoded?: DecodedError): UpstreamError {
  const kind = decoded?.kind ?? kindForStatus(res.status);
  if (kind === 'auth' && res.status !== 429) {
    return new ConnectionError({ connection, failure: 'auth', status: res.status, remoteCode: decoded?.remoteCode, message: safeMessage(decoded?.message ?? (res.text.trim() || `HTTP ${res.status}`)) });
  }
  // Retry-After counts on 429 and 503 whatever the decoder thought of the body
  const retryAfterMs = decoded?.retryAfterMs ?? (res.status === 429 || res.status === 503 ? retryAfterOf(res) : undefined);
  const message = decoded?.message ?? (res.text.trim() || `HTTP ${res.status}`);
  return new UpstreamError({
    connection,
    kind: res.status === 429 ? 'rate_limited' : kind,
    status: res.status,
    remoteCode: decoded?.remoteCode,
    message: safeMessage(message),
    retryAfterMs,
  });
}

/** Error codes of failures where the request may simply work the next time. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/** Certificate and handshake failures (node's and OpenSSL's codes). */
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
  // an https URL at a port that speaks plain HTTP, or no common protocol
  'EPROTO',
]);

/** A transport failure that no retry will mend: the connection's, not a member's. */
function connectionFailureOf(code: string | undefined): ConnectionFailure | undefined {
  if (!code) return undefined;
  if (code === 'ENOTFOUND') return 'dns';
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'tls';
  if (code === 'E_RESPONSE_TOO_LARGE') return 'format';
  return undefined;
}

/**
 * Wrap a transport failure (no response): timeouts, resets, refused connections and
 * socket hang-ups become kind `network` (retried); a host that does not resolve, a TLS
 * failure and an answer over the size cap a ConnectionError; anything else, `other`. The
 * cause is a fresh plain Error, not got's, because got's error holds the request options.
 */
export function upstreamFromNetwork(connection: string, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? ((err as { code: string }).code) : undefined;
  const raw = err instanceof Error ? err.message : String(err);
  const message = safeMessage(raw);
  const text = code && !message.includes(code) ? `${code} ${message}` : message;
  const cause = Object.assign(new Error(message), code ? { code } : {});
  const failure = connectionFailureOf(code);
  if (failure) return new ConnectionError({ connection, failure, message: text, cause });
  const hangUp = /socket hang up|premature close/i.test(raw);
  const kind: UpstreamKind = (code && TRANSIENT_CODES.has(code)) || hangUp ? 'network' : 'other';
  return new UpstreamError({ connection, kind, message: text, remoteCode: undefined, cause });
}
