/** What every command needs: config, the database, output helpers, error handling. */
import type { Config } from '../config/schema.js';
import { loadConfig } from '../config/load-config.js';
import { checkConnections } from '../connectors/registry.js';
import { ConfigError } from '../errors.js';
import { log, redact, type Logger } from '../log.js';
import { openDatabase, type Database } from '../store/db.js';

export interface Ctx {
  config: Readonly<Config>;
  db: Database;
  log: Logger;
}

/** Load config, open the database (embedded when DATABASE_URL is unset), run, close. */
export async function withStore<T>(fn: (ctx: Ctx) => Promise<T>, opts: { overrides?: Record<string, unknown>; checkSettings?: boolean } = {}): Promise<T> {
  const config = loadConfig({ overrides: opts.overrides });
  const problems = checkConnections(config.connections);
  if (problems.length > 0) throw new ConfigError(`config: ${problems.join('; ')}`);
  const db = await openDatabase({ log, allowDuplicateEmails: config.matching.allowDuplicateEmails, checkSettings: opts.checkSettings });
  try {
    return await fn({ config, db, log });
  } finally {
    await db.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(redact(JSON.stringify(value)) + '\n');
}

export function print(line = ''): void {
  process.stdout.write(redact(line) + '\n');
}

/** A fixed-width text table. */
export function table(rows: object[], columns: string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : v instanceof Date ? v.toISOString().replace(/\.\d+Z$/, 'Z') : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const get = (r: object, c: string) => (r as Record<string, unknown>)[c];
  const widths = columns.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => cell(get(r, c)).length))));
  const fmt = (vals: string[]) => vals.map((v, i) => (v.length > widths[i] ? v.slice(0, widths[i] - 1) + '…' : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [fmt(columns), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => fmt(columns.map((c) => cell(get(r, c)))))].join('\n');
}
