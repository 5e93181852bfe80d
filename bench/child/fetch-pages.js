// Floor of the pull benchmark: every page of a connection read through member-sync's own
// connector (HTTP client, paging, mapping to records) with no store behind it.
//   node bench/child/fetch-pages.js <connection>   (MEMBER_SYNC_CONFIG names the config)
// Prints one JSON line: {records, pages, ms, cpuMs}.
import { loadConfig } from '../../dist/config/load-config.js';
import { connectorFor } from '../../dist/connectors/registry.js';
import { log } from '../../dist/log.js';
import { connectionContext } from '../../dist/pipeline/pull.js';

const name = process.argv[2];
const config = loadConfig();
const ctx = connectionContext(name, config, log);
const connector = connectorFor(ctx.config.kind);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let records = 0;
let pages = 0;
for await (const page of connector.pull(ctx, {})) {
  pages++;
  records += page.records.length;
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ records, pages, ms, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n');
process.exit(0);
