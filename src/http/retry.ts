/**
 * The retry decision for every HTTP call member-sync makes. One function, `decideRetry`,
 * says whether a failed attempt is tried again and after how long; the client loop only
 * obeys it. Whether an error is transient at all is `isRetryable` from `errors.ts`, so
 * the queue and the HTTP layer can never disagree.
 */
import { UpstreamError, isRetryable } from '../errors.js';
import { sleep } from './rate-limiter.js';

export interface RetryPolicy {
  /** attempts in total, the first one included @defaultValue 4 */
  maxAttempts: number;
  /** backoff before the second attempt; doubles each time @defaultValue 250 */
  baseDelayMs: number;
  /** backoff cap @defaultValue 8000 */
  maxDelayMs: number;
  /**
   * a Retry-After longer than this is not waited out in-process: the error goes back to
   * the caller (with `retryAfterMs`) so a queue can reschedule instead of holding a slot
   * @defaultValue 60000
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  maxRetryAfterMs: 60_000,
});

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: string };

/**
 * Exponential backoff with "equal jitter": the delay for `attempt` (1 = the attempt that
 * just failed) lies in [d/2, d] where d = min(maxDelayMs, baseDelayMs * 2^(attempt-1)).
 * Half is fixed so retries never bunch up at zero; half is random so many clients that
 * failed together do not come back together.
 */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const half = exp / 2;
  return Math.round(half + random() * half);
}

/**
 * Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns
 * milliseconds to wait (never negative), or undefined when the header is absent or
 * unreadable, in which case normal backoff applies.
 */
export function parseRetryAfter(value: string | string[] | undefined | null, now: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw === null) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse also accepts bare numbers and odd strings; insist on something date-like
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * The one retry decision. `attempt` counts the attempt that just failed (1-based).
 * Retries rate limits, 5xx, timeouts and dropped connections (`isRetryable`) while
 * attempts remain; Retry-After, when the remote sent one, wins over backoff.
 */
export function decideRetry(
  err: unknown,
  attempt: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): RetryDecision {
  if (!isRetryable(err)) return { retry: false, reason: 'not retryable' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: `gave up after ${attempt} attempts` };
  const retryAfterMs = err instanceof UpstreamError ? err.retryAfterMs : undefined;
  if (retryAfterMs !== undefined) {
    if (retryAfterMs > policy.maxRetryAfterMs) {
      return { retry: false, reason: `Retry-After ${Math.ceil(retryAfterMs / 1000)}s exceeds ${policy.maxRetryAfterMs / 1000}s` };
    }
    return { retry: true, delayMs: retryAfterMs };
  }
  return { retry: true, delayMs: backoffDelay(attempt, policy, random) };
}

/**
 * A call that must not be sent twice blindly (a create the remote does not dedupe):
 * `send` makes one attempt (its request carries `retry: { maxAttempts: 1 }`); after a
 * failure `decideRetry` accepts, and before sending again, `applied` asks the remote
 * whether the failed attempt took effect anyway (a timeout or a reset after the remote
 * acted, a 5xx after a partial write). What `applied` finds is the result; only when it
 * finds nothing is the call sent again. A 429 was refused before anything happened: no
 * need to look.
 */
export async function retryUnlessApplied<T>(opts: {
  send(): Promise<T>;
  applied(): Promise<T | undefined>;
  policy?: RetryPolicy;
  signal?: AbortSignal;
  random?: () => number;
}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await opts.send();
    } catch (err) {
      const decision = decideRetry(err, attempt, opts.policy, opts.random);
      if (!decision.retry) throw err;
      await sleep(decision.delayMs, opts.signal);
      if (err instanceof UpstreamError && err.kind === 'rate_limited') continue;
      const found = await opts.applied();
      if (found !== undefined) return found;
    }
  }
}
