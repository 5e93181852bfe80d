/**
 * Files of a drop folder: which ones are ready, and where they go once handled —
 * `processed/` or `failed/` beside them, with `<name>.rejects.csv` when rows were
 * rejected (and `<name>.error.txt` for a failure).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import { csvLine } from '../csv/write-csv.js';
import { listRejects } from '../store/inspect-repo.js';

export const PROCESSED = 'processed';
export const FAILED = 'failed';

/** Names a writer uses while a file is incomplete: dot-files, *.part, *.tmp, *~ and the like. */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || /\.(part|partial|tmp|temp|crdownload|swp)$/i.test(name);
}

/** Creates the folder and its processed/ and failed/ if missing. */
export async function ensureDropFolder(dir: string): Promise<void> {
  for (const d of [dir, path.join(dir, PROCESSED), path.join(dir, FAILED)]) await mkdir(d, { recursive: true });
}

/** A name not taken in `dir`: `a.csv`, then `a-2.csv`, `a-3.csv`, … */
function freeName(dir: string, name: string): string {
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${stem}-${n}${ext}`;
    if (!existsSync(path.join(dir, candidate)) && !existsSync(path.join(dir, `${candidate}.rejects.csv`))) return candidate;
  }
}

/** Moves `file` into `<its folder>/<sub>/`; undefined when the file is already gone. */
export async function moveInto(file: string, sub: typeof PROCESSED | typeof FAILED): Promise<string | undefined> {
  const dir = path.join(path.dirname(file), sub);
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, freeName(dir, path.basename(file)));
  try {
    await rename(file, target);
    return target;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes a whole file under a temporary name, then renames it: whoever sees the file
 * (a person, an upload hook, a test) never reads it half-written.
 */
async function writeWhole(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.part`);
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** `<moved>.rejects.csv`: line, reason, then the row as read (as `member-sync rejects --csv`). */
export async function writeRejectsCsv(db: Knex, runId: number, moved: string): Promise<string | undefined> {
  const rows = await listRejects(db, runId);
  if (rows.length === 0) return undefined;
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.raw ?? {})) if (!cols.includes(k)) cols.push(k);
  const lines = [csvLine(['run_id', 'line', 'reason', ...cols])];
  for (const r of rows) lines.push(csvLine([r.run_id, r.line ?? r.source_ref, r.reason, ...cols.map((c) => r.raw?.[c])]));
  const out = `${moved}.rejects.csv`;
  await writeWhole(out, lines.join(''));
  return out;
}

export async function writeErrorNote(moved: string, message: string): Promise<void> {
  await writeWhole(`${moved}.error.txt`, `${message}\n`);
}

/**
 * The files waiting in a folder (for an `import: <folder>` step), oldest first: regular
 * files with a final name, not modified for `stableMs`.
 */
export async function waitingFiles(dir: string, stableMs: number): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const now = Date.now();
  const files: { file: string; mtime: number }[] = [];
  for (const e of entries) {
    if (!e.isFile() || isTemporaryName(e.name)) continue;
    const file = path.join(dir, e.name);
    const st = await stat(file).catch(() => undefined);
    if (st && now - st.mtimeMs >= stableMs) files.push({ file, mtime: st.mtimeMs });
  }
  return files.sort((a, b) => a.mtime - b.mtime || a.file.localeCompare(b.file)).map((f) => f.file);
}
