/**
 * A per-connection limiter: at most `concurrency` requests in flight, and request starts
 * spaced 1000/perSecond ms apart (perSecond 0 = no spacing). Spacing rather than a
 * bursting token bucket, because the remote systems we talk to count requests in short
 * windows and an initial burst is what trips them.
 */

export interface RateLimit {
  /** request starts per second; 0 = unlimited */
  perSecond: number;
  /** requests in flight at once */
  concurrency: number;
}

export class RateLimiter {
  private inFlight = 0;
  private readonly waiters: Array<() => void> = [];
  private nextStartAt = 0;
  private readonly intervalMs: number;
  private readonly concurrency: number;

  constructor(limit: RateLimit) {
    this.intervalMs = limit.perSecond > 0 ? 1000 / limit.perSecond : 0;
    this.concurrency = Math.max(1, Math.floor(limit.concurrency));
  }

  /** requests holding a slot now */
  get active(): number {
    return this.inFlight;
  }

  /**
   * Wait for a slot and for the spacing; returns the release function, which must be
   * called exactly once when the request is over.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.inFlight < this.concurrency) {
      this.inFlight++;
    } else {
      // release() hands its slot straight to the first waiter, so no count change here
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason ?? new Error('aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    }
    if (this.intervalMs > 0) {
      const now = Date.now();
      const startAt = Math.max(now, this.nextStartAt);
      this.nextStartAt = startAt + this.intervalMs;
      if (startAt > now) await sleep(startAt - now);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.inFlight--;
    };
  }
}

/** setTimeout as a promise; rejects early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
