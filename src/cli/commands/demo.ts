import path from 'node:path';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../../config/load-config.js';
import { print, withStore } from '../context.js';
import { runDemo } from './demo-run.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start the sandbox in-process, pull its four sources, import examples/members.csv, push to its Vocdoni, WeVote and community, push again (nothing resent)')
    .option('--people <n>', 'people in the sandbox', (v) => Number(v), 200)
    .action(async (flags: { people: number }) => {
      const { startSandbox } = await import('../../server/sandbox.js');
      const sb = await startSandbox({ people: flags.people, seed: 1 });
      Object.assign(process.env, sb.env);
      try {
        await withStore(
          async ({ config, db, log }) => {
            print(`database: ${db.embedded ? 'embedded PostgreSQL (data in .data/, or MEMBER_SYNC_DATA_DIR)' : 'DATABASE_URL'}`);
            print(`sandbox: ${Object.entries(sb.counts).map(([k, n]) => `${k} ${n}`).join(', ')} people on loopback`);
            const file = path.join(PACKAGE_ROOT, 'examples', 'members.csv');
            // the runs' own lines say what happened; the log only speaks up for warnings
            const quiet = process.env.LOG_LEVEL ? log : log.child({}, { level: 'warn' });
            await runDemo({ db: db.knex, config, log: quiet, file, fileLabel: 'examples/members.csv', print });
            print('next: member-sync runs, member-sync conflicts, member-sync members export | head');
          },
          { overrides: { connections: sb.connections } },
        );
      } finally {
        await sb.close();
      }
    });
}
