/**
 * Shared by the push, migrate and revert tests: a fresh database, a config pointing one
 * connection at a simulator on loopback, and CSV seeding through the real import.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { pushConnection, type PushOptions, type PushSummary } from '../../src/pipeline/push.js';
import type { TestDb } from '../helpers/db.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-push-'));
let fileNo = 0;

export function csvFile(content: string): string {
  const f = path.join(dir, `people-${++fileNo}.csv`);
  writeFileSync(f, content);
  return f;
}

export async function importCsv(db: TestDb, config: Readonly<Config>, content: string): Promise<number> {
  const s = await importFile(csvFile(content), { db: db.knex, config, log });
  if (!s.run_id) throw new Error('import skipped');
  return s.run_id;
}

export function configWith(connections: Record<string, Record<string, unknown>>): Readonly<Config> {
  return loadConfig({ env: {}, overrides: { import: { batchSize: 50, fileTrust: 0 }, connections } });
}

export function pushWith(db: TestDb, config: Readonly<Config>) {
  return (name: string, opts: Partial<PushOptions> = {}): Promise<PushSummary> => pushConnection(name, { db: db.knex, config, log, ...opts });
}

/** CSV of n generated people: member_id P-<i>, e-mail p<i>@example.org */
export function peopleCsv(n: number, from = 1, extra: (i: number) => string = () => ''): string {
  const rows = ['member_id,email,first_name,last_name,city'];
  for (let i = from; i < from + n; i++) rows.push(`P-${i},p${i}@example.org,First${i},Last${i},${extra(i) || 'Lyon'}`);
  return rows.join('\n') + '\n';
}

/** Pushes until nothing is left pending (transient failures), at most `max` times. */
export async function pushUntilSettled(push: (o?: Partial<PushOptions>) => Promise<PushSummary>, max = 5): Promise<PushSummary[]> {
  const out: PushSummary[] = [];
  for (let i = 0; i < max; i++) {
    const s = await push();
    out.push(s);
    if (s.failed === 0 && !s.stopped) break;
  }
  return out;
}
