// What the bench needs around it: psql, GNU time and pgloader (installed with apt-get
// when missing, if it can), and the description of the machine and the versions.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasGnuTime } from './proc.js';
import { round } from './stats.js';

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim(), error: r.error };
}

/** undefined when installed, else why not */
function aptInstall(ctx, pkg) {
  if (!existsSync('/usr/bin/apt-get')) return 'apt-get is not available';
  const apt = (...args) => (process.getuid?.() === 0 ? sh('apt-get', args) : sh('sudo', ['-n', 'apt-get', ...args]));
  ctx.say(`setup: ${pkg} is missing; apt-get install -y ${pkg}`);
  let r = apt('install', '-y', '-q', pkg);
  if (!r.ok) {
    ctx.say('setup: apt-get update');
    apt('update', '-q');
    r = apt('install', '-y', '-q', pkg);
  }
  return r.ok ? undefined : r.out.split('\n').slice(-3).join(' ');
}

/** Checks and installs the tools; returns whether pgloader is there. */
export function setupTools(ctx, notes, needPgloader) {
  if (!sh('psql', ['--version']).ok) throw new Error('psql is not installed (Debian: apt-get install -y postgresql-client)');
  if (!hasGnuTime()) {
    const why = aptInstall(ctx, 'time');
    if (why) notes.push(`/usr/bin/time could not be installed (${why}): peak RSS is polled from /proc every 50 ms, CPU of CLI runs is not recorded`);
  }
  let pgloaderOk = sh('pgloader', ['--version']).ok;
  if (!pgloaderOk && needPgloader) {
    const why = aptInstall(ctx, 'pgloader');
    pgloaderOk = sh('pgloader', ['--version']).ok;
    if (!pgloaderOk) {
      notes.push(`pgloader is not installed and could not be installed (${why ?? 'unknown reason'}): the peer figure is not measured`);
      ctx.say(`setup: pgloader could not be installed: ${why}`);
    }
  }
  return pgloaderOk;
}

export function versions(root, pgVersion, pgloaderOk) {
  const first = (r) => r.out.split('\n')[0];
  return {
    node: process.version,
    postgresql: pgVersion,
    psql: first(sh('psql', ['--version'])),
    pgloader: pgloaderOk ? first(sh('pgloader', ['--version'])).replace(/^pgloader version /, '').replace(/"/g, '') : 'not installed',
    memberSync: JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version,
  };
}

export function machine() {
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    memoryGB: round(os.totalmem() / 2 ** 30),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    loadavg: os.loadavg().map((x) => round(x)),
  };
}
