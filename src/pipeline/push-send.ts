/**
 * Sends one batch of members through a connector with at most `concurrency` members in
 * flight (the connection's rateLimit.concurrency; the HTTP client spaces the requests
 * per second and retries transient failures). Turns each PushResult into the row
 * push_state gets. Stops sending (a `halt`) when the remote asks for a wait we do not sit
 * out, or when member after member fails for a transient reason (the destination is
 * down: sending the rest would only pile up timeouts and retries).
 */
import type { PushResult } from '../connectors/types.js';
import { ConnectionError, UpstreamError, isRetryable } from '../errors.js';
import { DEFAULT_RETRY_POLICY } from '../http/index.js';
import { redact } from '../log.js';
import type { PushRecord } from '../store/push-repo.js';
import type { Member } from '../types.js';

export interface SendJob {
  memberId: string;
  member: Member;
  hash: string;
  payload: Record<string, unknown>;
  remoteId?: string;
  /** the link the member already has at this connection */
  linkId?: string;
}

export interface SendOutcome {
  job: SendJob;
  /** undefined when the push was cut short while this member was in flight */
  result?: PushResult;
}

/** Why a push stops sending before its end; the members not sent wait for the next push. */
export interface Halt {
  reason: string;
  /** the wait the remote asked for, when a Retry-After stopped the push */
  retryAfterMs?: number;
  /** the connection itself failed (a ConnectionError: credentials, DNS, TLS, not the system's answers): the push fails with it */
  connection?: Error;
}

export interface SendBatchResult {
  outcomes: SendOutcome[];
  halt?: Halt;
}

/**
 * Transient failures in a row, across the batches of one push. At `limit` the destination
 * is taken for down (every member had its HTTP retries already): the push stops. A limit
 * of 0 never stops it.
 */
export class FailureStreak {
  private count = 0;
  constructor(readonly limit: number) {}

  /** Counts one outcome; returns the halt once `limit` transient failures came in a row. */
  add(result: PushResult): Halt | undefined {
    if (this.limit <= 0) return undefined;
    if (result.success || !isRetryable(result.error)) {
      this.count = 0;
      return undefined;
    }
    if (++this.count < this.limit) return undefined;
    return { reason: `${this.count} members in a row failed for a transient reason (the destination looks down); the rest wait for the next push` };
  }
}

/** A Retry-After we do not sit out in-process means: stop this push, come back later. */
function retryAfterHalt(result: PushResult): Halt | undefined {
  if (result.success) return undefined;
  const err = result.error;
  if (err instanceof UpstreamError && err.kind === 'rate_limited' && (err.retryAfterMs ?? 0) > DEFAULT_RETRY_POLICY.maxRetryAfterMs) {
    return { reason: `the remote asked to wait ${Math.ceil((err.retryAfterMs ?? 0) / 1000)} s (Retry-After); push again later`, retryAfterMs: err.retryAfterMs };
  }
  return undefined;
}

export async function sendBatch(
  jobs: SendJob[],
  opts: {
    concurrency: number;
    push(job: SendJob): Promise<PushResult>;
    /** shared by the batches of one push */
    streak?: FailureStreak;
    signal?: AbortSignal;
    stop?: AbortSignal;
    onSent?(outcome: SendOutcome): void;
  },
): Promise<SendBatchResult> {
  const outcomes: SendOutcome[] = [];
  let next = 0;
  let halt: Halt | undefined;
  let brokenHalt: Halt | undefined;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && !halt && !opts.signal?.aborted && !opts.stop?.aborted) {
      const job = jobs[next++];
      const result = await opts.push(job);
      // a failure caused by our own abort, or by the connection itself (a refused key, a
      // host that does not resolve), says nothing about the member: leave it as it was
      const broken = !result.success && result.error instanceof ConnectionError ? result.error : undefined;
      const cut = (!result.success && opts.signal?.aborted) || broken !== undefined;
      const outcome: SendOutcome = cut ? { job } : { job, result };
      outcomes.push(outcome);
      // the connection's failure wins over any other reason to stop
      if (broken) halt = brokenHalt ??= { reason: broken.message, connection: broken };
      else if (!cut) halt ??= retryAfterHalt(result) ?? opts.streak?.add(result);
      opts.onSent?.(outcome);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency, jobs.length));
  await Promise.all(Array.from({ length: n }, worker));
  return { outcomes, halt };
}

function errorFields(err: Error): NonNullable<PushRecord['error']> {
  const message = redact(err.message).slice(0, 2000);
  if (err instanceof UpstreamError) return { message, kind: err.kind, httpStatus: err.status, remoteCode: err.remoteCode };
  return { message, kind: (err as { code?: string }).code };
}

/** The push_state row for a finished send; undefined for one cut short. */
export function recordOf(o: SendOutcome): PushRecord | undefined {
  const { job, result } = o;
  if (!result) return undefined;
  if (!result.success) {
    return { memberId: job.memberId, hash: job.hash, status: isRetryable(result.error) ? 'pending' : 'failed', error: errorFields(result.error) };
  }
  if (result.action === 'skipped') {
    return { memberId: job.memberId, hash: job.hash, status: 'skipped', error: { message: result.reason } };
  }
  const remoteId = result.remoteId ?? job.remoteId;
  return {
    memberId: job.memberId,
    hash: job.hash,
    status: 'ok',
    remoteId,
    payload: job.payload,
    newLink: remoteId && remoteId !== job.linkId ? remoteId : undefined,
  };
}
