/**
 * The progress bar of a long command on a terminal (cli-progress). While it shows, log
 * lines and notices are printed above it instead of being drawn over (a log sink); when
 * it stops it clears itself, so the summary that follows stands alone, and the cursor it
 * hid is shown again — also when the process ends early (`restoreTerminal`).
 *
 * cli-progress's SingleBar is not used: it restores the cursor position it saved at start
 * when it stops, which puts the summary over the log lines printed in between.
 */
import cliProgress from 'cli-progress';
import { setLogSink } from '../log.js';

export interface Progress {
  update(fraction: number, payload: Record<string, unknown>): void;
  stop(): void;
}

const NONE: Progress = { update: () => undefined, stop: () => undefined };
let active: { multi: cliProgress.MultiBar; stop(): void } | undefined;

const SHOW_CURSOR = '\x1b[?25h';

/** A bar on stderr when it is a terminal; otherwise nothing is drawn. */
export function startProgress(format: string, payload: Record<string, unknown>, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return NONE;
  active?.stop();
  const multi = new cliProgress.MultiBar(
    // linewrap: the terminal's wrapping is left alone (the bar is cut to the width instead)
    { format, stream, hideCursor: true, clearOnComplete: true, linewrap: true, autopadding: true },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(100, 0, payload);
  const previous = setLogSink((line) => multi.log(line.endsWith('\n') ? line : `${line}\n`));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    setLogSink(previous);
    // print what was logged since the last redraw, then clear the bar
    multi.update();
    multi.stop();
    if (active?.multi === multi) active = undefined;
  };
  active = { multi, stop };
  return {
    update: (fraction, p) => bar.update(Math.max(0, Math.min(100, Math.round(fraction * 100))), p),
    stop,
  };
}

/** A line for the person at the terminal: above the bar when one shows, else on stderr. */
export function notice(line: string): void {
  if (active) active.multi.log(`${line}\n`);
  else process.stderr.write(`${line}\n`);
}

/** Before exiting at once (a second Ctrl-C): the cursor shown, the bar's line cleared. */
export function restoreTerminal(): void {
  if (!active) return;
  active.stop();
  if (process.stderr.isTTY) process.stderr.write(SHOW_CURSOR);
}
