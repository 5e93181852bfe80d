import path from 'node:path';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../../config/load-config.js';
import { importFile } from '../../pipeline/import-file.js';
import { pullConnection } from '../../pipeline/pull.js';
import { print, withStore } from '../context.js';
import { summaryLine } from './import.js';
import { pullLine } from './pull.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start the sandbox in-process, pull convio, ikanow, community and vocdoni, import examples/members.csv, print a summary per run')
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
            for (const name of ['convio-sandbox', 'ikanow-sandbox', 'community-sandbox', 'vocdoni-sandbox']) {
              print(pullLine(await pullConnection(name, { db: db.knex, config, log, full: true })));
            }
            const file = path.join(PACKAGE_ROOT, 'examples', 'members.csv');
            const s = await importFile(file, { db: db.knex, config, log, force: true });
            print(summaryLine({ ...s, file: 'examples/members.csv' }));
            const total = await db.knex('members').count<{ count: string }[]>('* as count');
            const links = await db.knex('member_links').count<{ count: string }[]>('* as count');
            print(`members in the store: ${total[0].count}, linked to ${links[0].count} remote records`);
            print('next: member-sync runs, member-sync conflicts, member-sync members export | head');
          },
          { overrides: { connections: sb.connections } },
        );
      } finally {
        await sb.close();
      }
    });
}
