// Running the measured programs: wall time, peak RSS and CPU of a child process.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TIME = '/usr/bin/time';

/** children running now (killed by the bench's Ctrl-C handler) */
export const live = new Set();
export const hasGnuTime = () => existsSync(TIME);

/** kB of VmHWM (peak resident set) of a live process, or 0. */
export function peakRssKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** A measured program stopped because the bench ran out of time (or passed its cap). */
export class TimeLimit extends Error {
  constructor(what, ms) {
    super(`${what} stopped after ${Math.round(ms / 1000)} s (time limit)`);
    this.name = 'TimeLimit';
    this.ms = ms;
  }
}

/**
 * Runs cmd to its end. Returns {code, stdout, stderr, ms, peakRssKb, cpuMs, killed}. Peak RSS and
 * CPU come from GNU time (exact, taken at exit) when it is installed, else from polling
 * /proc every 50 ms (peak RSS only).
 */
export function run(cmd, args, { env, cwd, timeoutMs = 30 * 60_000 } = {}) {
  const timeFile = path.join(os.tmpdir(), `msbench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const wrapped = hasGnuTime() ? [TIME, ['-f', '%M %U %S', '-o', timeFile, cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(wrapped[0], wrapped[1], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let polled = 0;
    let killed = false;
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => {
      stderr += c;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    });
    const poll = hasGnuTime() ? undefined : setInterval(() => (polled = Math.max(polled, peakRssKb(child.pid))), 50);
    const timer = setTimeout(() => {
      killed = true;
      // GNU time passes no signal on: end the measured program itself
      for (const pid of childPids(child.pid)) process.kill(pid, 'SIGKILL');
      child.kill('SIGKILL');
    }, Math.max(0, timeoutMs));
    child.on('error', reject);
    child.on('close', (code) => {
      live.delete(child);
      const ms = performance.now() - t0;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      let peak = polled;
      let cpuMs;
      if (existsSync(timeFile)) {
        const last = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '';
        const [kb, user, sys] = last.split(/\s+/).map(Number);
        if (Number.isFinite(kb)) peak = kb;
        if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = (user + sys) * 1000;
        rmSync(timeFile, { force: true });
      }
      resolve({ code, stdout, stderr, ms, peakRssKb: peak, cpuMs, killed });
    });
  });
}

/** The last line of stdout that parses as JSON. */
export function lastJson(stdout) {
  const lines = stdout.trim().split('\n').reverse();
  for (const l of lines) {
    try {
      return JSON.parse(l);
    } catch {
      // not JSON
    }
  }
  throw new Error(`no JSON on stdout: ${stdout.slice(0, 300)}`);
}

/** pids of the direct children of pid (from /proc). */
function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Throws TimeLimit for a program stopped by its time limit, or with the end of stderr when it failed. */
export function check(res, what) {
  if (res.killed) throw new TimeLimit(what, res.ms);
  if (res.code !== 0) {
    const tail = res.stderr.trim().split('\n').slice(-8).join('\n');
    throw new Error(`${what} exited with code ${res.code}:\n${tail}`);
  }
  return res;
}
