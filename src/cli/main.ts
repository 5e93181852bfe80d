/** The `member-sync` command line. */
import { Command, CommanderError } from 'commander';
import { MemberSyncError } from '../errors.js';
import { redact } from '../log.js';
import { registerCheck } from './commands/check.js';
import { registerDemo } from './commands/demo.js';
import { registerEnqueue } from './commands/enqueue.js';
import { registerGen } from './commands/gen.js';
import { registerIdentity } from './commands/identity.js';
import { registerImport } from './commands/import.js';
import { registerMembers } from './commands/members.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPull } from './commands/pull.js';
import { registerPurge } from './commands/purge.js';
import { registerPush } from './commands/push.js';
import { registerConflicts } from './commands/conflicts.js';
import { registerReview } from './commands/review.js';
import { registerRun } from './commands/run.js';
import { registerRevert } from './commands/revert.js';
import { registerRuns } from './commands/runs.js';
import { registerSandbox } from './commands/sandbox.js';
import { registerWorker } from './commands/worker.js';

export function buildProgram(): Command {
  const program = new Command('member-sync')
    .description(
      'Keeps one clean list of an organization\'s people: imports CSV files and membership systems,\n' +
        'merges duplicates by cons_id, then member_id, then email, and keeps an audit trail.\n\n' +
        'Database: DATABASE_URL, or an embedded PostgreSQL with its data in .data/ (MEMBER_SYNC_DATA_DIR).\n' +
        'Config: config/default.yaml, ./config/local.yaml, then the file in MEMBER_SYNC_CONFIG.',
    )
    .version('0.1.0')
    .exitOverride();
  registerImport(program);
  registerPull(program);
  registerPush(program);
  registerCheck(program);
  registerMigrate(program);
  registerRevert(program);
  registerMembers(program);
  registerIdentity(program);
  registerConflicts(program);
  registerReview(program);
  registerPurge(program);
  registerRuns(program);
  registerSandbox(program);
  registerWorker(program);
  registerRun(program);
  registerEnqueue(program);
  registerDemo(program);
  registerGen(program);
  // a mistake gets its message (with commander's "Did you mean …?") and one line that
  // points at the help, not the whole help
  const pointAtHelp = (cmd: Command, path: string[]) => {
    cmd.exitOverride().showHelpAfterError(`(see 'member-sync ${[...path, '--help'].join(' ')}')`);
    for (const sub of cmd.commands) pointAtHelp(sub, [...path, sub.name()]);
  };
  pointAtHelp(program, []);
  return program;
}

/**
 * The reader of our output went away (`member-sync members export | head`): that is the
 * end of the output, not a failure. Exit at once and quietly, as a program killed by
 * SIGPIPE would (Node ignores the signal and reports EPIPE instead); whatever was being
 * written in a transaction is rolled back with the session.
 */
function endQuietlyOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedOutput();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : err.exitCode || 1;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`member-sync: ${redact(message)}\n`);
    if (!(err instanceof MemberSyncError) && process.env.LOG_LEVEL === 'debug' && err instanceof Error) {
      process.stderr.write(redact(err.stack ?? '') + '\n');
    }
    return 1;
  }
}
