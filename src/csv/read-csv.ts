/**
 * Streams a CSV file as batches of mapped records. Encoding: UTF-8 with or without BOM,
 * UTF-16 LE/BE by BOM, or what was asked for (windows-1252, latin1, utf16le). Delimiter `,` `;` or tab, detected from the
 * header line. Ragged rows and rows the parser cannot read become rejects with their
 * line number; every data row comes out as exactly one item.
 *
 * Hostile input stays bounded: a row longer than MAX_RECORD_CHARS or a quote never
 * closed is taken out before the parser (record-guard.ts) and rejected; a cell longer
 * than MAX_FIELD_CHARS, a NUL byte or bytes that are not valid in the file's encoding
 * reject their row; a binary file is refused. A reject keeps the row as read, cut to
 * RAW_CELL_CHARS a cell and RAW_ROW_CHARS a row (it says what was cut).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parse, type CsvError, type Options as ParseOptions } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { InputError } from '../errors.js';
import type { InputBatch, InputItem } from '../pipeline/ingest.js';
import type { InputRecord } from '../types.js';
import { planHeaders, type HeaderPlan, type Mapping } from './mappings.js';
import { MAX_RECORD_CHARS, RecordGuard, type GuardIncident } from './record-guard.js';

/** A longer cell rejects its row. */
export const MAX_FIELD_CHARS = 65_536;
/** What a reject keeps of each cell, and of the whole row. */
export const RAW_CELL_CHARS = 4096;
export const RAW_ROW_CHARS = 65_536;

/** What `--encoding` accepts: the encoding of a file without a BOM. */
export const INPUT_ENCODINGS = ['utf8', 'windows-1252', 'latin1', 'utf16le'] as const;
export type InputEncoding = (typeof INPUT_ENCODINGS)[number];
export type FileEncoding = InputEncoding | 'utf16be';

const ENCODING_ALIASES: Record<string, InputEncoding> = {
  'utf-8': 'utf8',
  cp1252: 'windows-1252',
  win1252: 'windows-1252',
  'iso-8859-1': 'latin1',
  'iso8859-1': 'latin1',
  'utf-16le': 'utf16le',
};

/** An `--encoding` value (case-insensitive, common aliases too), or an error naming the allowed ones. */
export function parseEncoding(given: string): InputEncoding {
  const k = given.trim().toLowerCase();
  const e = (INPUT_ENCODINGS as readonly string[]).includes(k) ? (k as InputEncoding) : ENCODING_ALIASES[k];
  if (!e) throw new InputError(`--encoding: expected one of ${INPUT_ENCODINGS.join(', ')}, got '${given}'`);
  return e;
}

const LABEL: Record<FileEncoding, string> = { utf8: 'UTF-8', 'windows-1252': 'windows-1252', latin1: 'Latin-1', utf16le: 'UTF-16', utf16be: 'UTF-16' };

export interface ReadCsvOptions {
  mapping: Mapping;
  batchSize: number;
  encoding?: InputEncoding;
  hasConnection: boolean;
  /** told once, when the header line is read */
  onHeaders?(plan: HeaderPlan): void;
}

/** The encoding and how many BOM bytes to skip. */
export async function sniffEncoding(file: string, requested?: InputEncoding): Promise<{ encoding: FileEncoding; skip: number }> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    const b = buf.subarray(0, bytesRead);
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { encoding: 'utf8', skip: 3 };
    if (b[0] === 0xff && b[1] === 0xfe) return { encoding: 'utf16le', skip: 2 };
    if (b[0] === 0xfe && b[1] === 0xff) return { encoding: 'utf16be', skip: 2 };
    return { encoding: requested ?? 'utf8', skip: 0 };
  } finally {
    await fh.close();
  }
}

/** The delimiter that occurs most often, outside quotes, in the header line. */
export function detectDelimiter(headerLine: string): string {
  const counts: Record<string, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch in counts) counts[ch]++;
  }
  let best = ',';
  for (const d of [';', '\t']) if (counts[d] > counts[best]) best = d;
  return best;
}

/**
 * The header line's cells, read ahead of the import (to choose a mapping and to know what
 * the file holds before a run is made): the first line of the first MiB, split as the
 * reader would. Empty when there is none to read; the import then says why.
 */
export async function readHeader(file: string, requested?: InputEncoding): Promise<string[]> {
  const { encoding, skip } = await sniffEncoding(file, requested);
  const fh = await open(file, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(1024 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, skip);
    const bytes = buf.subarray(0, bytesRead);
    text = encoding === 'utf8' ? new TextDecoder('utf-8').decode(bytes) : iconv.decode(bytes, encoding);
  } finally {
    await fh.close();
  }
  const line = text.split(/\r?\n|\r/, 1)[0];
  if (!line) return [];
  try {
    const rows = parseSync(line, { delimiter: detectDelimiter(line), relax_quotes: true, relax_column_count: true, bom: true }) as string[][];
    return rows[0] ?? [];
  } catch {
    return [];
  }
}

async function* decodedChunks(file: string, encoding: FileEncoding, skip: number, onBytes: (n: number) => void): AsyncGenerator<string> {
  const stream = createReadStream(file, { start: skip, highWaterMark: 256 * 1024 });
  const decoder = encoding === 'utf8' ? undefined : iconv.getDecoder(encoding);
  const utf8 = new TextDecoder('utf-8');
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    onBytes(chunk.length);
    const text = decoder ? decoder.write(chunk) : utf8.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const rest = decoder ? decoder.end() : utf8.decode();
  if (rest) yield rest;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The row as read, for rejects and conflicts: every cell, cut to bounded sizes. */
export function boundedRaw(row: string[], headers: string[]): Record<string, string> {
  const raw: Record<string, string> = {};
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    if (total >= RAW_ROW_CHARS) {
      raw._truncated = `the row has ${fmt(row.length)} columns; columns ${fmt(i + 1)} to ${fmt(row.length)} are not kept (a reject keeps ${fmt(RAW_ROW_CHARS)} characters of a row)`;
      break;
    }
    const key = headers[i] || `column_${i + 1}`;
    const v = row[i];
    const cell = v.length > RAW_CELL_CHARS ? `${v.slice(0, RAW_CELL_CHARS)}…[${fmt(v.length)} characters; the first ${fmt(RAW_CELL_CHARS)} are kept]` : v;
    raw[key] = cell;
    // as JSON: quotes, colon and comma included
    total += key.length + cell.length + 6;
  }
  return raw;
}

/** The first problem that makes a row unreadable, or undefined. */
function cellProblem(row: string[], plan: HeaderPlan, encoding: FileEncoding): string | undefined {
  const name = (i: number) => `column '${(plan.headers[i] || `column_${i + 1}`).slice(0, 60)}'`;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (v.length > MAX_FIELD_CHARS) return `${name(i)} holds ${fmt(v.length)} characters; the limit is ${fmt(MAX_FIELD_CHARS)}`;
    if (v.includes('\u0000')) return `${name(i)} contains a NUL byte`;
    // the decoder put U+FFFD where the bytes were not valid in the file's encoding
    if (encoding !== 'latin1' && v.includes('\uFFFD')) {
      const hint = encoding === 'utf8' ? ' (a file saved by Excel on Windows is usually windows-1252: import it with --encoding windows-1252; ISO-8859-1: --encoding latin1)' : '';
      return `${name(i)} is not valid ${LABEL[encoding]} text${hint}`;
    }
  }
  return undefined;
}

/** Builds one item from a parsed row. */
function toItem(row: string[], line: number, plan: HeaderPlan, mapping: Mapping, encoding: FileEncoding): InputItem {
  const raw = boundedRaw(row, plan.headers);
  if (row.length !== plan.headers.length) {
    return { rejected: true, ref: { line }, reason: `row has ${fmt(row.length)} fields; the header has ${fmt(plan.headers.length)}`, raw };
  }
  const problem = cellProblem(row, plan, encoding);
  if (problem) return { rejected: true, ref: { line }, reason: problem, raw };
  const rec: InputRecord = { ref: { line }, values: {}, raw };
  for (let i = 0; i < row.length; i++) {
    const field = plan.fields[i];
    let value = row[i];
    if (field === 'ignore') continue;
    if (field === undefined) {
      // a value under a column with no name is kept too, under its position
      if (value !== '') (rec.other ??= {})[plan.headers[i] || `column_${i + 1}`] = value;
      continue;
    }
    const replace = mapping.values[field]?.[value.trim().toLowerCase()];
    if (replace !== undefined) value = replace;
    if (field === 'external_id') {
      if (value.trim() !== '') rec.ref.externalId = value.trim();
    } else if (field === 'status') {
      const st = value.trim().toLowerCase();
      if (st === 'removed' || st === 'active') rec.ref.status = st;
      else if (st !== '') return { rejected: true, ref: { line }, reason: `status: expected active or removed (or empty), got '${value.trim().slice(0, 40)}'`, raw };
    } else if (value !== '' && (rec.values[field] === undefined || rec.values[field] === '')) {
      rec.values[field] = value;
    }
  }
  return rec;
}

/** A record the guard took out, as a reject. */
function incidentItem(x: GuardIncident): InputItem {
  const lines = x.endLine > x.startLine ? ` (lines ${x.startLine} to ${x.endLine})` : '';
  const reason =
    x.kind === 'oversize'
      ? `the row is ${fmt(x.chars)} characters long${lines}; the limit is ${fmt(MAX_RECORD_CHARS)}: not imported`
      : `a quoted field opened on line ${x.startLine} is never closed: lines ${x.startLine} to ${x.endLine} were read as one row and not imported; close the quote and import the file again`;
  const raw: Record<string, string> = { _raw: x.head };
  if (x.chars > x.head.length) raw._truncated = `the row has ${fmt(x.chars)} characters; the first ${fmt(x.head.length)} are kept`;
  return { rejected: true, ref: { line: x.startLine }, reason, raw };
}

/** Binary content at the start of the file: a NUL in the header line, or many control characters. */
function looksBinary(head: string): boolean {
  const firstLine = head.split(/\r?\n|\r/, 1)[0];
  if (firstLine.includes('\u0000')) return true;
  const sample = head.slice(0, 8192);
  let odd = 0;
  for (const ch of sample) {
    const c = ch.charCodeAt(0);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 0xfffd) odd++;
  }
  return sample.length > 0 && odd / sample.length > 0.1;
}

/** A parsed record and the line it starts on. */
interface Row {
  record: string[];
  line: number;
}

export interface CsvStream {
  batches: AsyncGenerator<InputBatch>;
  /** the file's size in bytes, for progress */
  size: number;
}

export async function readCsv(file: string, size: number, opts: ReadCsvOptions): Promise<CsvStream> {
  const { encoding, skip } = await sniffEncoding(file, opts.encoding);
  let bytes = skip;
  const chunks = decodedChunks(file, encoding, skip, (n) => (bytes += n));
  // Read until the header line is complete, to pick the delimiter.
  let head = '';
  let next = await chunks.next();
  while (!next.done) {
    head += next.value;
    if (/\r?\n/.test(head) || head.length > 1_000_000) break;
    next = await chunks.next();
  }
  if (head.trim() === '') throw new InputError(`${file}: the file is empty (no header line)`);
  if (looksBinary(head)) {
    throw new InputError(`${file}: not a CSV text file (binary data near the start; a text file in another encoding needs --encoding ${INPUT_ENCODINGS.filter((e) => e !== encoding).join(', ')} or a BOM)`);
  }
  const firstLine = head.split(/\r?\n/, 1)[0];
  const delimiter = detectDelimiter(firstLine.slice(0, 1_000_000));
  const guard = new RecordGuard({ delimiter, headChars: RAW_CELL_CHARS });
  async function* text(): AsyncGenerator<string> {
    const first = guard.push(head);
    if (first) yield first;
    if (!next.done) {
      for await (const c of chunks) {
        const t = guard.push(c);
        if (t) yield t;
      }
    }
    const rest = guard.end();
    if (rest) yield rest;
  }
  const skipped: { line: number; reason: string; raw: string }[] = [];
  let lastSkipLine = -1;
  const options: ParseOptions<Row, string[]> = {
    delimiter,
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    relax_quotes: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    skip_records_with_error: true,
    // the guard bounds records before the parser sees them
    max_record_size: 0,
    // the guard leaves the parser hardly anything to refuse; whatever it does refuse is a reject
    on_skip: (err: CsvError | undefined) => {
      const at = (err as { lines?: number } | undefined)?.lines ?? 0;
      // one reject per record, however many times the parser complains about it
      if (at === lastSkipLine) return undefined;
      lastSkipLine = at;
      skipped.push({ line: guard.nextStart(), reason: `unreadable CSV: ${(err?.message ?? 'parse error').slice(0, 300)}`, raw: '' });
      return undefined;
    },
    // the guard numbers records by physical line, in the order the parser reads them
    on_record: (record) => ({ record, line: guard.nextStart() }),
  };
  // csv-parse types on_record for the array form only; the stream yields what it returns
  const parser = Readable.from(text()).pipe(parse(options as unknown as ParseOptions));
  return { size, batches: batches() };

  async function* batches(): AsyncGenerator<InputBatch> {
    let plan: HeaderPlan | undefined;
    let items: InputItem[] = [];
    let taken = 0;
    const flushSkipped = () => {
      for (const s of skipped.splice(0)) items.push({ rejected: true, ref: { line: s.line }, reason: s.reason, raw: { _raw: s.raw } });
    };
    // rows the guard took out, in line order before the row at `line`
    const flushIncidents = (line: number) => {
      while (taken < guard.incidents.length && guard.incidents[taken].startLine < line) items.push(incidentItem(guard.incidents[taken++]));
    };
    // the header line itself taken out: no row may be read as the header in its place
    const headerProblem = (firstLine: number) => {
      const x = guard.incidents[0];
      if (!x || x.startLine > firstLine) return;
      throw new InputError(
        x.kind === 'oversize'
          ? `${file}: the header line is ${fmt(x.chars)} characters long; the limit is ${fmt(MAX_RECORD_CHARS)} (is this a CSV file?)`
          : `${file}: the header line opens a quote that is never closed`,
      );
    };
    for await (const { record, line } of parser as AsyncIterable<Row>) {
      if (!plan) {
        headerProblem(line);
        plan = planHeaders(record, opts.mapping, opts.hasConnection);
        opts.onHeaders?.(plan);
        continue;
      }
      flushSkipped();
      flushIncidents(line);
      items.push(toItem(record, line, plan, opts.mapping, encoding));
      if (items.length >= opts.batchSize) {
        yield { items, position: bytes };
        items = [];
      }
    }
    if (!plan) headerProblem(Infinity);
    if (!plan) throw new InputError(`${file}: the file is empty (no header line)`);
    flushSkipped();
    flushIncidents(Infinity);
    if (items.length > 0) yield { items, position: bytes };
  }
}
