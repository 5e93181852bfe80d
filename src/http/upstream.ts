/**
 * Turning HTTP failures into `UpstreamError`s. Whatever ends up in an error is safe to
 * log and to store in push_state: registered secrets are redacted, URL query strings
 * (where api keys and passwords travel) are cut, and neither request headers nor form
 * bodies are ever copied in.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { UpstreamError, type UpstreamKind } from '../errors.js';
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

/** Build the UpstreamError for a response the decoder (or the status) marks as failed. */
export function upstreamFromResponse(connection: string, res: RawResponse, decoded?: DecodedError): UpstreamError {
  const kind = decoded?.kind ?? kindForStatus(res.status);
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

/**
 * Wrap a transport failure (no response): timeouts, resets, refused connections and
 * socket hang-ups become kind `network` (retried); anything else, `other`. The cause is
 * a fresh plain Error, not got's, because got's error holds the request options.
 */
export function upstreamFromNetwork(connection: string, err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? ((err as { code: string }).code) : undefined;
  const raw = err instanceof Error ? err.message : String(err);
  const hangUp = /socket hang up|premature close/i.test(raw);
  const kind: UpstreamKind = (code && TRANSIENT_CODES.has(code)) || hangUp ? 'network' : 'other';
  const message = safeMessage(raw);
  const cause = Object.assign(new Error(message), code ? { code } : {});
  return new UpstreamError({ connection, kind, message: code && !message.includes(code) ? `${code} ${message}` : message, remoteCode: undefined, cause });
}
