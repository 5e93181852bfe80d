/**
 * Worker processes as a user runs them (`node bin/member-sync.js worker`) for the fault
 * tests: start, wait for a condition (never for a time), kill. Every process started here
 * is killed by `killAll`, whatever the test did.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const BIN = path.resolve('bin/member-sync.js');

export interface WorkerProc {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

const procs: WorkerProc[] = [];

export function startWorker(cwd: string, env: Record<string, string>): WorkerProc {
  const child = spawn(process.execPath, [BIN, 'worker'], { cwd, env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const p = { child, exited, output: () => out };
  procs.push(p);
  return p;
}

export async function killAll(): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  procs.length = 0;
}

/** Polls `fn` until it returns something truthy; fails after `ms` with the worker's last output. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000, worker?: WorkerProc): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${worker ? `\n--- worker output ---\n${worker.output().slice(-4000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Writes under a temporary name, then renames: the way to drop a file safely. */
export function drop(dir: string, name: string, text: string): void {
  writeFileSync(path.join(dir, `.${name}.part`), text);
  renameSync(path.join(dir, `.${name}.part`), path.join(dir, name));
}

/** A CSV of `rows` people, member_id W<i>. */
export function people(rows: number, from = 0): string {
  const out: string[] = ['member_id,email,first_name,last_name'];
  for (let i = from; i < from + rows; i++) out.push(`W${i},w${i}@example.org,Wen${i},Lee`);
  return out.join('\n') + '\n';
}
