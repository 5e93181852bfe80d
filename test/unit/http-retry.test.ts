import { describe, expect, it } from 'vitest';
import { UpstreamError, ValidationError } from '../../src/errors.js';
import { backoffDelay, decideRetry, DEFAULT_RETRY_POLICY, kindForStatus, paginateCursor, paginateOffset, paginatePages, parseRetryAfter, safeMessage } from '../../src/http/index.js';
import { registerSecret } from '../../src/log.js';

const upstream = (kind: UpstreamError['kind'], extra: { status?: number; retryAfterMs?: number } = {}) =>
  new UpstreamError({ connection: 'test', kind, message: 'x', ...extra });

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('1', now)).toBe(1000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent and unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it('takes the first of repeated headers', () => {
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000);
  });
});

describe('backoffDelay', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };

  it('doubles per attempt and stays within [d/2, d]', () => {
    for (const [attempt, d] of [
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
    ] as const) {
      expect(backoffDelay(attempt, policy, () => 0)).toBe(d / 2);
      expect(backoffDelay(attempt, policy, () => 0.999999)).toBeLessThanOrEqual(d);
      expect(backoffDelay(attempt, policy, () => 0.999999)).toBeGreaterThan(d * 0.99);
    }
  });

  it('is capped at maxDelayMs', () => {
    expect(backoffDelay(20, policy, () => 1)).toBe(1000);
    expect(backoffDelay(20, policy, () => 0)).toBe(500);
  });

  it('spreads with random jitter', () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(3, policy)));
    expect(seen.size).toBeGreaterThan(5);
    for (const d of seen) expect(d >= 200 && d <= 400).toBe(true);
  });
});

describe('decideRetry', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 };

  it('retries rate limits, server and network errors', () => {
    for (const kind of ['rate_limited', 'server', 'network'] as const) {
      expect(decideRetry(upstream(kind), 1, policy, () => 0)).toEqual({ retry: true, delayMs: 50 });
    }
  });

  it('never retries auth, not_found, duplicate, validation, other', () => {
    for (const kind of ['auth', 'not_found', 'duplicate', 'validation', 'other'] as const) {
      expect(decideRetry(upstream(kind, { status: 400 }), 1, policy).retry).toBe(false);
    }
    expect(decideRetry(new ValidationError('bad'), 1, policy).retry).toBe(false);
  });

  it('retries raw socket errors by code', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(decideRetry(reset, 1, policy).retry).toBe(true);
  });

  it('stops when attempts are used up', () => {
    expect(decideRetry(upstream('server'), 2, policy).retry).toBe(true);
    const last = decideRetry(upstream('server'), 3, policy);
    expect(last.retry).toBe(false);
  });

  it('lets Retry-After win over backoff, zero included', () => {
    expect(decideRetry(upstream('rate_limited', { retryAfterMs: 2000 }), 1, policy, () => 0)).toEqual({ retry: true, delayMs: 2000 });
    expect(decideRetry(upstream('rate_limited', { retryAfterMs: 0 }), 2, policy, () => 1)).toEqual({ retry: true, delayMs: 0 });
  });

  it('hands a Retry-After above the cap back to the caller', () => {
    const d = decideRetry(upstream('rate_limited', { retryAfterMs: 3_600_000 }), 1, policy);
    expect(d.retry).toBe(false);
  });
});

describe('status kinds and safe messages', () => {
  it('maps statuses', () => {
    expect(kindForStatus(401)).toBe('auth');
    expect(kindForStatus(403)).toBe('auth');
    expect(kindForStatus(404)).toBe('not_found');
    expect(kindForStatus(409)).toBe('duplicate');
    expect(kindForStatus(422)).toBe('validation');
    expect(kindForStatus(429)).toBe('rate_limited');
    expect(kindForStatus(503)).toBe('server');
    expect(kindForStatus(418)).toBe('other');
  });

  it('drops query strings and registered secrets', () => {
    registerSecret('s3cr3t-key-value');
    const m = safeMessage('failed https://x.example/api?api_key=abc&login_password=pw then s3cr3t-key-value');
    expect(m).not.toContain('api_key=abc');
    expect(m).not.toContain('pw');
    expect(m).not.toContain('s3cr3t-key-value');
    expect(m).toContain('https://x.example/api');
  });
});

// the pagination strategies live next to the retry policy in src/http; pure, so tested here
describe('pagination strategies', () => {
  const data = Array.from({ length: 7 }, (_, i) => i + 1);

  it('paginatePages walks until a short page, and honours lastPage', async () => {
    const seen: number[] = [];
    const pages = [];
    for await (const p of paginatePages({ pageSize: 3, fetchPage: async (page) => (seen.push(page), { items: data.slice((page - 1) * 3, page * 3) }) })) pages.push(p);
    expect(pages.map((p) => p.items)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(pages.map((p) => p.nextPage)).toEqual([2, 3, undefined]);
    const withLast = [];
    for await (const p of paginatePages({ fetchPage: async (page) => ({ items: [page], lastPage: 2 }) })) withLast.push(p.page);
    expect(withLast).toEqual([1, 2]);
  });

  it('paginateOffset resumes from an offset and stops at an empty page', async () => {
    const pages = [];
    for await (const p of paginateOffset({ limit: 2, startOffset: 4, fetch: async (o, l) => data.slice(o, o + l) })) pages.push(p);
    expect(pages).toEqual([
      { offset: 4, items: [5, 6], nextOffset: 6 },
      { offset: 6, items: [7], nextOffset: undefined },
    ]);
  });

  it('paginateCursor follows next until it is absent', async () => {
    const pages = [];
    for await (const p of paginateCursor<number, string>({ fetch: async (c) => (c === undefined ? { items: [1], next: 'b' } : { items: [2], next: null }) })) pages.push(p);
    expect(pages).toEqual([
      { items: [1], next: 'b' },
      { items: [2], next: undefined },
    ]);
  });
});
