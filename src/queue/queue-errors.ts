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
