/**
 * `member-sync gen members <N>`: a deterministic CSV of generated people (the demo's and
 * the benchmarks' input). Rows are streamed with backpressure, so a million rows (about
 * 125 MB) take a few MB of memory. With --out the file is written as `<file>.part` and
 * renamed when complete: a drop folder never sees half a file.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { csvLine } from '../../csv/write-csv.js';
import { CSV_HEADER, generateRows } from '../../members/generate.js';
import { print } from '../context.js';

interface GenFlags {
  dupRate: number;
  badRate: number;
  seed: number;
  out?: string;
}

/** rows joined into one write: few syscalls, bounded memory */
const CHUNK_BYTES = 256 * 1024;
const PROGRESS_EVERY = 10_000;

function count(name: string) {
  return (v: string): number => {
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got '${v}'`);
    return n;
  };
}

function share(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${name}: expected a number from 0 to 1, got '${v}'`);
    return n;
  };
}

/** Resolves once the stream can take more (or is closed); rejects if it fails meanwhile. */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', ok);
      out.off('close', ok);
      out.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const ok = () => done();
    out.once('drain', ok);
    out.once('close', ok);
    out.once('error', done);
  });
}

function opened(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  });
}

function closed(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.errored) return reject(out.errored);
    out.once('error', reject);
    out.end((err?: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** Writes the header and n rows to `out`; returns the bytes written. */
export async function writeMembersCsv(out: Writable, n: number, opts: { seed: number; dupRate: number; badRate: number; onRows?(rows: number): void }): Promise<number> {
  let bytes = 0;
  let chunk = csvLine(CSV_HEADER);
  let rows = 0;
  const flush = async () => {
    if (out.destroyed) return;
    bytes += Buffer.byteLength(chunk);
    const more = out.write(chunk);
    chunk = '';
    if (!more && !out.destroyed) await drained(out);
  };
  for (const row of generateRows(n, { seed: opts.seed, dupRate: opts.dupRate, badRate: opts.badRate })) {
    chunk += csvLine(row);
    rows++;
    if (chunk.length >= CHUNK_BYTES) {
      await flush();
      if (out.errored) throw out.errored;
      if (out.destroyed) return bytes;
    }
    if (rows % PROGRESS_EVERY === 0) opts.onRows?.(rows);
  }
  if (chunk.length > 0) await flush();
  opts.onRows?.(rows);
  return bytes;
}

async function toFile(file: string, n: number, flags: GenFlags, onRows?: (rows: number) => void): Promise<number> {
  const part = `${file}.part`;
  const out = createWriteStream(part);
  // a write error is read from out.errored after each chunk, and by closed()
  out.on('error', () => undefined);
  try {
    await opened(out);
    const bytes = await writeMembersCsv(out, n, { ...flags, onRows });
    await closed(out);
    await rename(part, file);
    return bytes;
  } catch (err) {
    out.destroy();
    await unlink(part).catch(() => undefined);
    throw err;
  }
}

async function toStdout(n: number, flags: GenFlags, onRows?: (rows: number) => void): Promise<void> {
  let failed: Error | undefined;
  // the reader going away (`| head`) is the end of the output, not a failure
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') failed = err;
    process.stdout.destroy();
  };
  process.stdout.on('error', onError);
  try {
    await writeMembersCsv(process.stdout, n, { ...flags, onRows });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
  } finally {
    process.stdout.off('error', onError);
  }
  if (failed) throw failed;
}

export function registerGen(program: Command): void {
  const gen = program.command('gen').description('generate test data (deterministic: the same arguments give the same bytes)');

  gen
    .command('members')
    .description('write a CSV of N generated people in the canonical mapping, with restated duplicates, conflicts and bad rows')
    .argument('<n>', 'rows to write (after the header)', count('<n>'))
    .option('--dup-rate <r>', 'share of rows that restate an earlier person (by cons_id, member_id or email, with case and format differences)', share('--dup-rate'), 0.2)
    .option('--bad-rate <r>', 'share of rows that are conflicts or unreadable (taken out of the restatements)', share('--bad-rate'), 0.01)
    .option('--seed <s>', 'seed of the generator', count('--seed'), 1)
    .option('-o, --out <file>', 'write to this file (via <file>.part, renamed when complete); default: stdout')
    .addHelpText(
      'after',
      `
People have accented names, e-mails in mixed case, phones and birth dates in mixed
formats. A restatement repeats an earlier person by cons_id, member_id or email; with
--dup-rate 0 every row is a new person (and there are no bad rows). About 125 bytes a
row: 1,000,000 rows make a file of about 125 MB.

Examples:
  member-sync gen members 1000 > members.csv
  member-sync gen members 1000000 --out big.csv
  member-sync gen members 100000 --dup-rate 0 --seed 7 --out unique.csv
  member-sync gen members 5000 --out inbox/partner.csv     # safe to write into a watched drop folder`,
    )
    .action(async (n: number, flags: GenFlags) => {
      const bar =
        process.stderr.isTTY && n >= PROGRESS_EVERY
          ? new cliProgress.SingleBar({ format: 'gen members [{bar}] {percentage}% | {value}/{total} rows', stream: process.stderr }, cliProgress.Presets.shades_classic)
          : undefined;
      bar?.start(n, 0);
      const onRows = bar ? (rows: number) => bar.update(rows) : undefined;
      try {
        if (flags.out) {
          const bytes = await toFile(flags.out, n, flags, onRows);
          bar?.stop();
          print(`${flags.out}: ${n} rows, ${(bytes / 1e6).toFixed(1)} MB (seed ${flags.seed}, dup-rate ${flags.dupRate})`);
        } else {
          await toStdout(n, flags, onRows);
        }
      } finally {
        bar?.stop();
      }
    });
}
