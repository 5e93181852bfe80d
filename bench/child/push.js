// One push measured from inside the pushing process, so that the CPU figure is the
// pusher's alone (the simulators run in another process) and start-up is left out.
//   node bench/child/push.js <connection> [--limit N]
// DATABASE_URL and MEMBER_SYNC_CONFIG as for the CLI. Prints one JSON line:
//   {summary, ms, cpuMs}
import { loadConfig } from '../../dist/config/load-config.js';
import { log } from '../../dist/log.js';
import { pushConnection } from '../../dist/pipeline/push.js';
import { openDatabase } from '../../dist/store/db.js';

const [name, ...rest] = process.argv.slice(2);
const limitAt = rest.indexOf('--limit');
const limit = limitAt >= 0 ? Number(rest[limitAt + 1]) : undefined;

const config = loadConfig();
const db = await openDatabase({ log, allowDuplicateEmails: config.matching.allowDuplicateEmails });
try {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const summary = await pushConnection(name, { db: db.knex, config, log, limit });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ summary, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n');
} finally {
  await db.close();
}
process.exit(0);
