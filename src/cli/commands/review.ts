/** `member-sync review`: the review page on loopback, for a person at their own machine. */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { registerSecret } from '../../log.js';
import { withStore } from '../context.js';

function portOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port: expected a port number (0-65535, 0: any free port), got '${v}'`);
  return n;
}

export function registerReview(program: Command): void {
  program
    .command('review')
    .description('serve the review page (conflict queue, member search, merge and split) on 127.0.0.1 until Ctrl-C')
    .option('--port <port>', 'port to listen on (0: any free port)', portOption, 0)
    .addHelpText(
      'after',
      `
Prints the page's address and a sign-in token made for this run (it is never logged);
open the address in a browser on this machine and paste the token. The worker's admin
server serves the same page at /review (admin.port, signed in with MEMBER_SYNC_ADMIN_TOKEN).

Example:
  member-sync review --port 7300`,
    )
    .action(async (flags: { port: number }) => {
      await withStore(async ({ db, config, log }) => {
        const [{ createReviewHandler }, { startReviewServer }] = await Promise.all([import('../../server/review/routes.js'), import('../../server/review/serve.js')]);
        const token = randomBytes(24).toString('base64url');
        registerSecret(token);
        const server = await startReviewServer({ host: '127.0.0.1', port: flags.port, handler: createReviewHandler({ db: db.knex, config, log, token }), log });
        // the token is for the person at this terminal: written here, never through the logger
        process.stdout.write(`review page: ${server.url}\nsign-in token (this run only): ${token}\nCtrl-C to stop\n`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await server.close();
      });
    });
}
