/** Errors of the queue layer, each with a stable `code` like the others in src/errors.ts. */
import { MemberSyncError } from '../errors.js';

/** The queue backend (Redis) cannot be reached at start. */
export class QueueUnavailableError extends MemberSyncError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_QUEUE_UNAVAILABLE', message, options);
  }
}

/** A step stopped between two batches because the worker is shutting down. */
export class InterruptedError extends MemberSyncError {
  constructor(message = 'interrupted after the batch in hand; run it again to continue') {
    super('E_INTERRUPTED', message);
  }
}

/**
 * A database session lost under a statement (pg_terminate_backend, a failover, a network
 * cut). pg reports it without a SQLSTATE, and knex replaces the 57P01 of a terminated
 * transaction with the failure of its ROLLBACK, so `isRetryable` (errors.ts) does not see
 * a code: the queue recognizes the messages, so that such a job is retried rather than
 * failed for good. (Reported: isRetryable itself should know them, and ingest's batch
 * retry with it.)
 */
export function isLostDatabaseSession(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated unexpectedly|Client has encountered a connection error and is not queryable|terminating connection due to administrator command|Connection terminated due to connection timeout/.test(message);
}
