/**
 * The few error classes member-sync throws. Each has a stable `code`; `isRetryable`
 * is the one place that decides whether a failed step is tried again.
 */

export class MemberSyncError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad config or job file: names the file, the key and what is allowed. */
export class ConfigError extends MemberSyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
  }
}

/** Bad input the user handed us (unreadable file, unknown mapping, missing headers). */
export class InputError extends MemberSyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_INPUT', message, options);
  }
}

/** A record that cannot be read; carries its line or external id. */
export class ValidationError extends MemberSyncError {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super('E_VALIDATION', message);
  }
}

/** Another process is working on the same connection; trying again later will do. */
export class BusyError extends MemberSyncError {
  constructor(message: string) {
    super('E_BUSY', message);
  }
}

/** The database cannot be reached or started. */
export class DatabaseError extends MemberSyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_DATABASE', message, options);
  }
}

export type UpstreamKind = 'auth' | 'not_found' | 'duplicate' | 'validation' | 'rate_limited' | 'server' | 'network' | 'other';

/**
 * An external system said no, or could not be reached. Carries the HTTP status, the
 * remote code and message; never the request (it may hold credentials).
 */
export class UpstreamError extends MemberSyncError {
  readonly connection: string;
  readonly status?: number;
  readonly remoteCode?: string;
  readonly kind: UpstreamKind;
  /** milliseconds the remote asked us to wait (Retry-After) */
  readonly retryAfterMs?: number;
  constructor(fields: {
    connection: string;
    kind: UpstreamKind;
    message: string;
    status?: number;
    remoteCode?: string;
    retryAfterMs?: number;
    cause?: unknown;
    /** the stable code, when a subclass has its own */
    code?: string;
  }) {
    const where = fields.status ? `HTTP ${fields.status}` : fields.kind;
    const code = fields.remoteCode ? ` code ${fields.remoteCode}` : '';
    super(fields.code ?? `E_UPSTREAM_${fields.kind.toUpperCase()}`, `${fields.connection}: ${where}${code}: ${fields.message}`, {
      cause: fields.cause,
    });
    this.connection = fields.connection;
    this.status = fields.status;
    this.remoteCode = fields.remoteCode;
    this.kind = fields.kind;
    this.retryAfterMs = fields.retryAfterMs;
  }
}

/**
 * What made a connection unusable, as opposed to one member's record:
 * - auth: the credentials were refused, or lack a right the call needs (401/403, IKANOW
 *   "not logged in", a GNOSS signature or permission refusal, a WeVote key not accepted,
 *   Convio errorResponse codes 2-5, 7 and 14)
 * - dns: the host name does not resolve (ENOTFOUND)
 * - tls: the certificate or the TLS handshake failed
 * - format: the answer is not the system's (an HTML page, another API, a redirect to
 *   another origin or in a loop, a body over http.maxResponseBytes)
 */
export type ConnectionFailure = 'auth' | 'dns' | 'tls' | 'format';

/**
 * The connection itself failed: every other member would fail the same way, so the pull
 * or push stops at once, the run fails with this reason, and no member is marked failed
 * by it. Never retried (fixing it needs a person: a key, a baseUrl, a certificate).
 * `kind` stays the UpstreamKind the failure maps to (auth for auth, other otherwise).
 */
export class ConnectionError extends UpstreamError {
  readonly failure: ConnectionFailure;
  constructor(fields: { connection: string; failure: ConnectionFailure; message: string; status?: number; remoteCode?: string; cause?: unknown }) {
    super({ ...fields, kind: fields.failure === 'auth' ? 'auth' : 'other', code: 'E_CONNECTION' });
    this.failure = fields.failure;
  }
}

/**
 * The one retry decision: rate limits, server errors and network errors retry with
 * backoff; everything else (4xx, validation, config, auth) does not.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ConnectionError) return false;
  if (err instanceof UpstreamError) {
    return err.kind === 'rate_limited' || err.kind === 'server' || err.kind === 'network';
  }
  if (err instanceof DatabaseError || err instanceof BusyError) return true;
  if (err instanceof MemberSyncError) return false;
  if (isLostDatabaseSession(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    // node and pg transient errors: resets, refused connections, serialization failures
    return ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', '40001', '40P01', '57P01', '08006', '08003'].includes(code);
  }
  return false;
}

/**
 * A database session lost under a statement (pg_terminate_backend, a failover, a network
 * cut). pg reports it without a SQLSTATE, and knex replaces the 57P01 of a terminated
 * transaction with the failure of its ROLLBACK, so only the message tells.
 */
export function isLostDatabaseSession(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated unexpectedly|Client has encountered a connection error and is not queryable|terminating connection due to administrator command|Connection terminated due to connection timeout/.test(message);
}

/** One line for the user: the message, without a stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
