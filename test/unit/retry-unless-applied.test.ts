/** retryUnlessApplied: a create is never sent again before asking whether it took effect. */
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/errors.js';
import { DEFAULT_RETRY_POLICY, retryUnlessApplied } from '../../src/http/index.js';

const fail = (kind: UpstreamError['kind']) => new UpstreamError({ connection: 'test', kind, message: kind });
const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1, maxDelayMs: 2 };

function script(answers: Array<string | UpstreamError>, found: Array<string | undefined>) {
  const calls: string[] = [];
  return {
    calls,
    run: () =>
      retryUnlessApplied({
        send: async () => {
          calls.push('send');
          const a = answers.shift();
          if (a instanceof UpstreamError) throw a;
          return a!;
        },
        applied: async () => {
          calls.push('look');
          return found.shift();
        },
        policy,
      }),
  };
}

describe('retryUnlessApplied', () => {
  it('returns what the lookup finds after a lost answer, without sending again', async () => {
    const s = script([fail('network')], ['made-1']);
    await expect(s.run()).resolves.toBe('made-1');
    expect(s.calls).toEqual(['send', 'look']);
  });

  it('sends again only when the lookup finds nothing; a 429 needs no lookup', async () => {
    const s = script([fail('server'), fail('rate_limited'), 'made-2'], [undefined]);
    await expect(s.run()).resolves.toBe('made-2');
    expect(s.calls).toEqual(['send', 'look', 'send', 'send']);
  });

  it('gives up after maxAttempts sends, and never retries a permanent error', async () => {
    const s = script([fail('network'), fail('network'), fail('network'), fail('network')], [undefined, undefined, undefined]);
    await expect(s.run()).rejects.toMatchObject({ kind: 'network' });
    expect(s.calls.filter((c) => c === 'send')).toHaveLength(DEFAULT_RETRY_POLICY.maxAttempts);
    const p = script([fail('duplicate')], []);
    await expect(p.run()).rejects.toMatchObject({ kind: 'duplicate' });
    expect(p.calls).toEqual(['send']);
  });
});
