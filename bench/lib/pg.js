// The PostgreSQL the bench uses: BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test.
// Every measured run gets a database of its own, named msbench_<pid>_<n>_<random> and
// dropped afterwards (also on Ctrl-C).
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

const created = new Set();
let counter = 0;

export function urlFor(name) {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function query(url, text, values) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/** A fresh database, empty or a copy of `template` (a database nobody is connected to); returns {name, url}. */
export async function createDatabase(tag, template) {
  const name = `msbench_${process.pid}_${++counter}_${tag}_${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await query(ADMIN_URL, `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template.name}"` : ''}`);
  created.add(name);
  return { name, url: urlFor(name) };
}

export async function dropDatabase(db) {
  if (!db) return;
  await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`);
  created.delete(db.name);
}

export async function dropAll() {
  for (const name of [...created]) await dropDatabase({ name }).catch(() => undefined);
}

export async function serverVersion() {
  const r = await query(ADMIN_URL, 'SHOW server_version');
  return r.rows[0].server_version;
}

export async function count(url, table) {
  const r = await query(url, `SELECT count(*)::int AS n FROM ${table}`);
  return r.rows[0].n;
}
