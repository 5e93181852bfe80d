/**
 * The worker suite on Redis (REDIS_URL). It skips only when no Redis answers and CI is
 * not set; in CI it always runs. An unreachable Redis is tested everywhere.
 */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { cli, redisAnswers, workerSuite } from './worker-suite.js';

const haveRedis = process.env.CI ? true : await redisAnswers();

if (haveRedis) workerSuite('redis');
else describe.skip('member-sync worker on the redis backend (no Redis answers; CI is not set)', () => it('skipped', () => undefined));

describe('an unreachable Redis', () => {
  it('fails the worker and enqueue at once with a clear message and exit code 1', async () => {
    const env = { REDIS_URL: 'redis://:hunter22@127.0.0.1:1', MEMBER_SYNC_CONFIG: '/dev/null', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    for (const args of [['worker'], ['enqueue', '--steps', '[{import: ./x.csv}]']]) {
      const r = await cli(args, os.tmpdir(), env);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('member-sync: cannot reach Redis at redis://:[REDACTED]@127.0.0.1:1 (REDIS_URL): connect ECONNREFUSED 127.0.0.1:1\n');
    }
  });
});
