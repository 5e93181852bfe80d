/**
 * Sends one batch of members through a connector with at most `concurrency` members in
 * flight (the connection's rateLimit.concurrency; the HTTP client spaces the requests
 * per second and retries transient failures). Turns each PushResult into the row
 * push_state gets.
 */
import type { PushResult } from '../connectors/types.js';
import { UpstreamError, isRetryable } from '../errors.js';
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

export interface SendBatchResult {
  outcomes: SendOutcome[];
  /** set when the remote asked us to wait longer than we wait in-process: stop pushing */
  halt?: string;
}

/** A Retry-After we do not sit out in-process means: stop this push, come back later. */
function haltReason(result: PushResult): string | undefined {
  if (result.success) return undefined;
  const err = result.error;
  if (err instanceof UpstreamError && err.kind === 'rate_limited' && (err.retryAfterMs ?? 0) > DEFAULT_RETRY_POLICY.maxRetryAfterMs) {
    return `the remote asked to wait ${Math.ceil((err.retryAfterMs ?? 0) / 1000)} s (Retry-After); push again later`;
  }
  return undefined;
}

export async function sendBatch(
  jobs: SendJob[],
  opts: { concurrency: number; push(job: SendJob): Promise<PushResult>; signal?: AbortSignal; stop?: AbortSignal; onSent?(outcome: SendOutcome): void },
): Promise<SendBatchResult> {
  const outcomes: SendOutcome[] = [];
  let next = 0;
  let halt: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && !halt && !opts.signal?.aborted && !opts.stop?.aborted) {
      const job = jobs[next++];
      const result = await opts.push(job);
      // a failure caused by our own abort says nothing about the member: leave it as it was
      const cut = !result.success && opts.signal?.aborted;
      const outcome: SendOutcome = cut ? { job } : { job, result };
      outcomes.push(outcome);
      halt ??= haltReason(result);
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
