/**
 * A command on a pseudo-terminal, as a person at a terminal runs it: util-linux `script`
 * gives it the pty (no native module to build), and a headless xterm reads the bytes it
 * writes into the screen a person would see — where the cursor moves, what is drawn over.
 */
import { spawn } from 'node:child_process';
import xterm from '@xterm/headless';

export interface PtyRun {
  /** what the person types: `\x03` is Ctrl-C (the pty's line discipline sends SIGINT) */
  type(data: string): void;
  /** the raw bytes written, as text */
  raw(): string;
  /** the screen and its scrollback, one string per line, trailing blanks cut */
  screen(): Promise<string[]>;
  /** waits until the screen has a line matching `re` */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  terminal: InstanceType<typeof xterm.Terminal>;
  exit: Promise<number | null>;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function onPty(argv: string[], opts: { cwd: string; env: Record<string, string | undefined>; cols?: number; rows?: number }): PtyRun {
  const cols = opts.cols ?? 100;
  const rows = opts.rows ?? 40;
  const terminal = new xterm.Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
  const command = `stty cols ${cols} rows ${rows}; exec ${argv.map(quote).join(' ')}`;
  // -e: script exits with the command's code; -f: every write is passed on at once
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: opts.cwd, env: { ...process.env, ...opts.env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'inherit'] });
  let raw = '';
  let written = Promise.resolve();
  child.stdout.on('data', (d: Buffer) => {
    const text = d.toString('utf8');
    raw += text;
    written = written.then(() => new Promise<void>((r) => terminal.write(text, r)));
  });
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const screen = async (): Promise<string[]> => {
    await written;
    const buf = terminal.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  };
  return {
    type: (data) => child.stdin.write(data),
    raw: () => raw,
    screen,
    waitFor: async (re, timeoutMs = 60_000) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = (await screen()).find((l) => re.test(l));
        if (hit) return hit;
        if (Date.now() > until) throw new Error(`no line matching ${re} on the screen:\n${(await screen()).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    terminal,
    exit: exit.finally(() => child.stdin.end()),
  };
}
