/** The built CLI as a user runs it: a real process in a folder of its own, its exit code and output. */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const BIN = path.resolve('bin/member-sync.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `member-sync ARGS` in `cwd`, with the environment `env()` gives (read at each call) and `extra`. */
export function cliIn(cwd: string, env: () => Record<string, string | undefined> = () => ({})) {
  return async (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, LOG_LEVEL: 'warn', ...env(), ...extra }, maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as CliResult;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
}

/** A file in `dir`, for the CLI to read. */
export function fileIn(dir: string) {
  return (name: string, content: string): string => {
    const f = path.join(dir, name);
    writeFileSync(f, content);
    return f;
  };
}
