import path from 'node:path';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../../config/load-config.js';
import { importFile } from '../../pipeline/import-file.js';
import { listConflicts } from '../../store/inspect-repo.js';
import { print, withStore } from '../context.js';
import { summaryLine } from './import.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('import examples/members.csv (duplicates in every form the rules handle) and print what happened')
    .action(async () => {
      await withStore(async ({ config, db, log }) => {
        const file = path.join(PACKAGE_ROOT, 'examples', 'members.csv');
        print(`database: ${db.embedded ? 'embedded PostgreSQL (data in .data/, or MEMBER_SYNC_DATA_DIR)' : 'DATABASE_URL'}`);
        const s = await importFile(file, { db: db.knex, config, log, force: true });
        print(summaryLine({ ...s, file: 'examples/members.csv' }));
        const conflicts = s.run_id ? await listConflicts(db.knex, s.run_id, 5) : [];
        for (const c of conflicts) print(`  conflict ${c.source_ref}: ${c.reason}`);
        const total = await db.knex('members').count<{ count: string }[]>('* as count');
        print(`members in the store: ${total[0].count}`);
        print('next: member-sync members export | head, member-sync conflicts, member-sync rejects, member-sync runs');
      });
    });
}
