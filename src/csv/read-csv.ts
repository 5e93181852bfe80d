/**
 * Streams a CSV file as batches of mapped records. Encoding: UTF-8 with or without BOM,
 * UTF-16 LE/BE by BOM, or Latin-1 when asked. Delimiter `,` `;` or tab, detected from the
 * header line. Ragged rows and rows the parser cannot read become rejects with their
 * line number; every data row comes out as exactly one item.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { parse, type Info } from 'csv-parse';
import iconv from 'iconv-lite';
import { InputError } from '../errors.js';
import type { InputBatch, InputItem } from '../pipeline/ingest.js';
import type { InputRecord } from '../types.js';
import { planHeaders, type HeaderPlan, type Mapping } from './mappings.js';

export type FileEncoding = 'utf8' | 'utf16le' | 'utf16be' | 'latin1';

export interface ReadCsvOptions {
  mapping: Mapping;
  batchSize: number;
  encoding?: 'latin1' | 'utf8';
  hasConnection: boolean;
}

/** The encoding and how many BOM bytes to skip. */
export async function sniffEncoding(file: string, requested?: 'latin1' | 'utf8'): Promise<{ encoding: FileEncoding; skip: number }> {
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

async function* decodedChunks(file: string, encoding: FileEncoding, skip: number, onBytes: (n: number) => void): AsyncGenerator<string> {
  const stream = createReadStream(file, { start: skip, highWaterMark: 256 * 1024 });
  const decoder = encoding === 'utf8' ? undefined : iconv.getDecoder(encoding === 'latin1' ? 'latin1' : encoding);
  const utf8 = new TextDecoder('utf-8');
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    onBytes(chunk.length);
    const text = decoder ? decoder.write(chunk) : utf8.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const rest = decoder ? decoder.end() : utf8.decode();
  if (rest) yield rest;
}

/** Builds one item from a parsed row. */
function toItem(row: string[], line: number, plan: HeaderPlan, mapping: Mapping): InputItem {
  const raw: Record<string, string> = {};
  row.forEach((v, i) => {
    raw[plan.headers[i] ?? `column_${i + 1}`] = v;
  });
  if (row.length !== plan.headers.length) {
    return { rejected: true, ref: { line }, reason: `row has ${row.length} fields; the header has ${plan.headers.length}`, raw };
  }
  const nul = row.findIndex((v) => v.includes('\u0000'));
  if (nul >= 0) return { rejected: true, ref: { line }, reason: `column '${plan.headers[nul]}' contains a NUL byte`, raw };
  const rec: InputRecord = { ref: { line }, values: {}, raw };
  for (let i = 0; i < row.length; i++) {
    const field = plan.fields[i];
    let value = row[i];
    if (field === 'ignore') continue;
    if (field === undefined) {
      if (plan.headers[i] !== '' && value !== '') (rec.other ??= {})[plan.headers[i]] = value;
      continue;
    }
    const replace = mapping.values[field]?.[value.trim().toLowerCase()];
    if (replace !== undefined) value = replace;
    if (field === 'external_id') {
      if (value.trim() !== '') rec.ref.externalId = value.trim();
    } else if (value !== '' && (rec.values[field] === undefined || rec.values[field] === '')) {
      rec.values[field] = value;
    }
  }
  return rec;
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
  const firstLine = head.split(/\r?\n/, 1)[0];
  const delimiter = detectDelimiter(firstLine);
  async function* text(): AsyncGenerator<string> {
    yield head;
    if (next.done) return;
    for await (const c of chunks) yield c;
  }
  const skipped: { line: number; reason: string; raw: string }[] = [];
  const parser = Readable.from(text()).pipe(
    parse({
      delimiter,
      bom: true,
      info: true,
      raw: true,
      relax_column_count: true,
      skip_empty_lines: true,
      relax_quotes: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      skip_records_with_error: true,
      max_record_size: 16 * 1024 * 1024,
      on_skip: (err, raw) => {
        const line = (err as { lines?: number } | undefined)?.lines ?? 0;
        skipped.push({ line, reason: `unreadable CSV: ${err?.message ?? 'parse error'}`, raw: String(raw ?? '').slice(0, 10_000) });
        return undefined;
      },
    }),
  );
  return { size, batches: batches() };

  async function* batches(): AsyncGenerator<InputBatch> {
    let plan: HeaderPlan | undefined;
    let items: InputItem[] = [];
    let prevEnd = 0;
    const flushSkipped = () => {
      for (const s of skipped.splice(0)) items.push({ rejected: true, ref: { line: s.line }, reason: s.reason, raw: { _raw: s.raw } });
    };
    for await (const entry of parser as AsyncIterable<{ record: string[]; info: Info; raw: string }>) {
      const { record, info, raw } = entry;
      // The row starts after the previous one ends, past any blank lines.
      const lineCount = raw.split('\n').length - (raw.endsWith('\n') ? 1 : 0);
      const line = Math.max(prevEnd + 1, info.lines - lineCount + 1);
      prevEnd = info.lines;
      if (!plan) {
        plan = planHeaders(record, opts.mapping, opts.hasConnection);
        continue;
      }
      flushSkipped();
      items.push(toItem(record, line, plan, opts.mapping));
      if (items.length >= opts.batchSize) {
        yield { items, position: bytes };
        items = [];
      }
    }
    if (!plan) throw new InputError(`${file}: the file is empty (no header line)`);
    flushSkipped();
    if (items.length > 0) yield { items, position: bytes };
  }
}
