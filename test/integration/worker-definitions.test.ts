/** Job files, payloads and units: what the worker accepts, and the errors it gives. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigError, UpstreamError } from '../../src/errors.js';
import { log } from '../../src/log.js';
import { parseJobDefinition } from '../../src/queue/job-definition.js';
import { assertJobPayload } from '../../src/queue/job-payload.js';
import { adhocJob, checkDropFolderConfig, checkJobsAgainstConfig, loadJobDefinitions } from '../../src/queue/load-jobs.js';
import { retryDelay } from '../../src/queue/queue-backend.js';
import { expandSteps, unitConnections, unitLabel } from '../../src/queue/units.js';

const config = loadConfig({
  env: {},
  overrides: {
    connections: {
      'convio-main': { kind: 'convio', baseUrl: 'http://127.0.0.1:1/site/' },
      'wevote-main': { kind: 'wevote', baseUrl: 'http://127.0.0.1:1/' },
      'vocdoni-main': { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1/' },
    },
  },
});

function jobsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-jobs-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('job definitions', () => {
  it('reads the shipped examples', () => {
    const defs = loadJobDefinitions(path.resolve('jobs'));
    expect([...defs.keys()].sort()).toEqual(['convio-to-vocdoni', 'nightly', 'partner-drop']);
    expect(defs.get('nightly')).toMatchObject({ schedule: '0 2 * * *', tz: 'UTC', steps: [{ pull: '*' }, { push: '*' }] });
    expect(defs.get('convio-to-vocdoni')!.steps).toEqual([{ migrate: 'convio-main', to: 'vocdoni-main' }]);
  });

  it('names the file and the key of what is wrong', () => {
    const dir = jobsDir({ 'bad.yaml': 'steps:\n  - pull: convio-main\n  - push: [vocdoni-main]\n    retry: true\n' });
    expect(errorOf(() => loadJobDefinitions(dir))).toBe(`${path.join(dir, 'bad.yaml')}: steps.1.retry: unknown key; a push step takes push, retryFailed, limit`);
    const where = 'jobs/x.yaml';
    expect(errorOf(() => parseJobDefinition('x', { steps: [{ fetch: 'a' }] }, where))).toMatch(/^jobs\/x\.yaml: steps\.0: a step needs one of pull, push, import, migrate/);
    expect(errorOf(() => parseJobDefinition('x', { steps: [{ pull: 'a', push: 'b' }] }, where))).toMatch(/steps\.0: one kind per step/);
    expect(errorOf(() => parseJobDefinition('x', { schedule: 'every night', steps: [{ pull: 'a' }] }, where))).toMatch(/^jobs\/x\.yaml: schedule: a cron pattern/);
    expect(errorOf(() => parseJobDefinition('x', { schedule: '0 2 * * *', tz: 'Mars/Base', steps: [{ pull: 'a' }] }, where))).toMatch(/tz: an IANA time zone/);
    expect(errorOf(() => parseJobDefinition('x', { steps: [] }, where))).toMatch(/steps: a list of at least one step/);
    expect(errorOf(() => parseJobDefinition('x', { cron: '* * * * *', steps: [{ pull: 'a' }] }, where))).toMatch(/^jobs\/x\.yaml: cron: unknown key/);
    expect(errorOf(() => parseJobDefinition('Bad Name', { steps: [{ pull: 'a' }] }, where))).toMatch(/\(file name\)/);
    expect(errorOf(() => parseJobDefinition('x', { steps: [{ import: './in', encoding: 'ebcdic' }] }, where))).toMatch(/steps\.0\.encoding/);
  });

  it('accepts cron with seconds, time zones and every', () => {
    expect(parseJobDefinition('a', { schedule: '*/5 * * * * *', steps: [{ pull: 'x' }] }, 'f').schedule).toBe('*/5 * * * * *');
    expect(parseJobDefinition('a', { every: '30s', steps: [{ pull: 'x' }] }, 'f').every).toBe(30_000);
    expect(parseJobDefinition('a', { every: 1500, steps: [{ pull: 'x' }] }, 'f').every).toBe(1500);
    expect(errorOf(() => parseJobDefinition('a', { every: '1 fortnight', steps: [{ pull: 'x' }] }, 'f'))).toMatch(/every: a duration/);
  });

  it('refuses to start with a scheduled job naming an unknown connection, and only warns for the others', () => {
    const dir = jobsDir({ 'a.yaml': 'steps:\n  - pull: nope\n', 'b.yaml': 'schedule: "0 1 * * *"\nsteps:\n  - push: [vocdoni-main, wevote-main]\n  - pull: wevote-main\n' });
    const defs = loadJobDefinitions(dir);
    const warn = vi.spyOn(log, 'warn').mockImplementation(() => undefined);
    expect(errorOf(() => checkJobsAgainstConfig(defs, config, log))).toBe(
      `${path.join(dir, 'b.yaml')}: steps.1.pull: 'wevote-main' is a wevote connection, which has no list API to pull from`,
    );
    warn.mockClear();
    checkJobsAgainstConfig(new Map([['a', defs.get('a')!]]), config, log);
    expect(warn).toHaveBeenCalledOnce();
    expect(String(warn.mock.calls[0][1])).toMatch(/job 'a' names connections the config cannot use/);
    warn.mockRestore();
  });

  it('expands * to every connection that can, and knows which connections a unit locks', () => {
    const units = expandSteps([{ pull: '*' }, { push: '*' }, { migrate: 'convio-main', to: ['vocdoni-main'] }, { import: './in/', connection: 'convio-main' }], config, 'test');
    expect(units.map(unitLabel)).toEqual([
      'pull convio-main',
      'pull vocdoni-main',
      'push convio-main',
      'push wevote-main',
      'push vocdoni-main',
      'migrate convio-main -> vocdoni-main',
      'import ./in/',
    ]);
    expect(units.map((u) => unitConnections(u, config))).toEqual([['convio-main'], ['vocdoni-main'], ['convio-main'], ['wevote-main'], ['vocdoni-main'], ['convio-main', 'vocdoni-main'], ['convio-main']]);
    expect(errorOf(() => expandSteps([{ push: 'ghost' }], config, 'job x'))).toBe("job x: steps.0.push: unknown connection 'ghost'; configured: convio-main, wevote-main, vocdoni-main");
  });

  it('reads ad-hoc steps from the command line', () => {
    expect(adhocJob('[{pull: convio-main}, {push: "*"}]').steps).toEqual([{ pull: 'convio-main' }, { push: '*' }]);
    expect(errorOf(() => adhocJob('pull: x'))).toMatch(/--steps: a YAML list of steps/);
  });
});

describe('worker settings', () => {
  it('checks the drop folder mapping and connection at start', () => {
    const bad = loadConfig({ env: {}, overrides: { dropFolder: { mapping: 'nope', connection: 'ghost' } } });
    expect(errorOf(() => checkDropFolderConfig(bad))).toMatch(/^config: dropFolder\.connection: unknown connection 'ghost'; configured: none; dropFolder\.mapping: unknown mapping 'nope'/);
    expect(() => checkDropFolderConfig(config)).not.toThrow();
  });

  it('retries after the Retry-After the remote gave, else exponentially', () => {
    expect([1, 2, 3].map((n) => retryDelay(n, 1000))).toEqual([1000, 2000, 4000]);
    const limited = new UpstreamError({ connection: 'c', kind: 'rate_limited', message: 'slow down', retryAfterMs: 90_000 });
    expect(retryDelay(1, 1000, limited)).toBe(90_000);
  });

  it('rejects a queue prefix that cannot be a PostgreSQL schema', () => {
    expect(errorOf(() => loadConfig({ env: {}, overrides: { worker: { prefix: 'Bad-Prefix' } } }))).toMatch(/worker\.prefix: lower-case letters, digits and _/);
  });
});

describe('job payloads', () => {
  it('accepts what this and older versions queue, and rejects the rest naming the key', () => {
    const old = { v: 1, kind: 'steps', job: 'nightly', steps: [{ pull: 'a' }] };
    expect(assertJobPayload(old)).toMatchObject({ kind: 'steps', job: 'nightly', steps: [{ pull: 'a' }] });
    const resumed = { ...old, source: 'schedule', done: ['0:pull a'], results: [] };
    expect(assertJobPayload(resumed)).toMatchObject({ done: ['0:pull a'] });
    const drop = { v: 1, kind: 'drop', path: '/in/a.csv', sha256: 'a'.repeat(64) };
    expect(assertJobPayload(drop)).toEqual(drop);
    expect(errorOf(() => assertJobPayload(null, '7'))).toBe('job 7 payload: (top level): an object');
    expect(errorOf(() => assertJobPayload({ v: 2, kind: 'steps' }, '7'))).toMatch(/job 7 payload: v: unsupported version 2/);
    expect(errorOf(() => assertJobPayload({ ...old, steps: [{ pull: 3 }] }, '7'))).toMatch(/^job 7 payload: steps\.0\.pull/);
    expect(errorOf(() => assertJobPayload({ ...drop, sha256: 'xyz' }, '7'))).toBe('job 7 payload: sha256: a sha256 in hex');
    expect(errorOf(() => assertJobPayload({ v: 1, kind: 'email' }, '7'))).toBe('job 7 payload: kind: steps or drop');
  });
});
