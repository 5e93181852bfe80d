/**
 * Keeps the CSV parser's memory bounded. It sits between the decoded text and csv-parse,
 * follows record boundaries the way csv-parse reads them (a quote opens a quoted field
 * only at the start of a field; `""` inside one is a quote; CR, LF and CRLF end a record
 * outside quotes) and takes out, before the parser sees them:
 *
 * - a record longer than `maxRecordChars` (a 200 MB line, say): the parser would hold it
 *   whole, and csv-parse's own `max_record_size` with `skip_records_with_error` drops the
 *   rest of every chunk after the limit, rows that follow included;
 * - a quoted field still open at the end of the file (it would swallow every line after
 *   its opening quote into one field).
 *
 * It also numbers the records it lets through: `nextStart()` gives, in order, the line
 * each non-empty record starts on (csv-parse skips empty ones), counting a CRLF as one
 * line even inside a quoted field, where csv-parse's own `info.lines` counts it twice.
 *
 * Each one becomes an incident (its lines, its length, its first characters) that the
 * reader turns into a reject; in the text it is replaced by as many line breaks as it
 * spanned, so every later row keeps its line number. Record breaks go out as LF (a CRLF
 * or a lone CR counts as one line either way); breaks inside quoted fields are kept.
 */

export interface GuardIncident {
  kind: 'oversize' | 'unclosed_quote';
  /** physical lines the record spans (1-based, as csv-parse counts them) */
  startLine: number;
  endLine: number;
  /** characters in the record */
  chars: number;
  /** its first characters */
  head: string;
}

export interface RecordGuardOptions {
  delimiter: string;
  /** @defaultValue 16 MiB */
  maxRecordChars?: number;
  /** characters of a taken-out record kept in its incident @defaultValue 4096 */
  headChars?: number;
}

export const MAX_RECORD_CHARS = 16 * 1024 * 1024;

export class RecordGuard {
  readonly incidents: GuardIncident[] = [];
  private readonly max: number;
  private readonly headChars: number;
  private quoting = false;
  /** a quote met inside a quoted field as the last character of a chunk: the next character decides */
  private pendingQuote = false;
  /** the last character of the previous chunk */
  private prev = '';
  /** physical line of the current position */
  private line = 1;
  private recStartLine = 1;
  /** line breaks inside the current record (a CRLF counts once) */
  private recBreaks = 0;
  /** the current record's text not passed on yet */
  private rec: string[] = [];
  private recChars = 0;
  private dropping = false;
  private head = '';
  /** start lines of the records let through, not yet taken by nextStart() */
  private starts: number[] = [];
  private startsAt = 0;

  constructor(private readonly opts: RecordGuardOptions) {
    this.max = opts.maxRecordChars ?? MAX_RECORD_CHARS;
    this.headChars = opts.headChars ?? 4096;
  }

  /** The line the next record the parser reads starts on. */
  nextStart(): number {
    const line = this.starts[this.startsAt++] ?? 0;
    if (this.startsAt > 4096) {
      this.starts = this.starts.slice(this.startsAt);
      this.startsAt = 0;
    }
    return line;
  }

  /** Text to hand the parser for this chunk. */
  push(chunk: string): string {
    const out: string[] = [];
    // records that end inside this chunk and need nothing done go out as one slice
    let emitFrom = 0;
    // where the current record's text in this chunk starts
    let from = 0;
    const re = /["\r\n]/g;
    if (this.pendingQuote && chunk.length > 0) {
      this.pendingQuote = false;
      // `""` is an escaped quote; anything else after a quote closes the field (relaxed)
      if (chunk[0] === '"') re.lastIndex = 1;
      else this.quoting = false;
    }
    for (let m = re.exec(chunk); m; m = re.exec(chunk)) {
      const j = m.index;
      const c = chunk[j];
      const before = j > 0 ? chunk[j - 1] : this.prev;
      if (c === '"') {
        if (this.quoting) {
          if (j + 1 >= chunk.length) {
            this.pendingQuote = true;
            break;
          }
          if (chunk[j + 1] === '"') re.lastIndex = j + 2;
          else this.quoting = false;
        } else if (before === '' || before === this.opts.delimiter || before === '\r' || before === '\n') {
          this.quoting = true;
        }
        continue;
      }
      // a line break; the LF of a CRLF adds no line
      const counts = !(c === '\n' && before === '\r');
      if (this.quoting) {
        if (counts) {
          this.line++;
          this.recBreaks++;
        }
        continue;
      }
      if (!counts) {
        // the LF of the CRLF that ended the previous record: its CR went out as an LF
        if (from === j && this.recChars === 0) {
          out.push(chunk.slice(emitFrom, j));
          from = emitFrom = j + 1;
        }
        continue;
      }
      const end = j + 1;
      if (this.recChars === 0 && end - from <= this.max && c === '\n') {
        if (j > from) this.starts.push(this.recStartLine);
        this.recBreaks = 0;
        from = end;
      } else {
        out.push(chunk.slice(emitFrom, from));
        this.endRecord(out, chunk.slice(from, j));
        from = emitFrom = end;
      }
      this.line++;
      this.recStartLine = this.line;
    }
    out.push(chunk.slice(emitFrom, from));
    this.keep(chunk.slice(from));
    if (chunk.length > 0) this.prev = chunk[chunk.length - 1];
    return out.join('');
  }

  /** Text left at the end of the input. */
  end(): string {
    if (this.pendingQuote) {
      // a quote as the very last character closes its field
      this.pendingQuote = false;
      this.quoting = false;
    }
    // a break as the very last character (inside the open quote) starts no new line
    const last = this.prev === '\n' || this.prev === '\r' ? this.line - 1 : this.line;
    if (this.quoting) {
      this.incident('unclosed_quote', Math.max(this.recStartLine, last));
      this.reset();
      return '';
    }
    if (this.dropping) {
      this.incident('oversize', Math.max(this.recStartLine, last));
      this.reset();
      return '';
    }
    const rest = this.rec.join('');
    if (rest !== '') this.starts.push(this.recStartLine);
    this.reset();
    return rest;
  }

  private keep(text: string): void {
    if (text === '') return;
    this.recChars += text.length;
    if (this.dropping) return;
    if (this.head.length < this.headChars) this.head += text.slice(0, this.headChars - this.head.length);
    if (this.recChars > this.max) {
      this.dropping = true;
      this.rec = [];
      return;
    }
    this.rec.push(text);
  }

  /**
   * The current record ends with `body` and a break. Every record break goes out as an LF
   * (a lone CR too), so that no CR is ever left for the LF of a replacement to pair with.
   */
  private endRecord(out: string[], body: string): void {
    this.keep(body);
    if (this.dropping) {
      this.incident('oversize', this.line);
      // as many blank lines as it spanned: later rows keep their line numbers
      out.push('\n'.repeat(this.recBreaks + 1));
    } else {
      if (this.recChars > 0) this.starts.push(this.recStartLine);
      out.push(...this.rec, '\n');
    }
    this.reset();
  }

  private incident(kind: GuardIncident['kind'], endLine: number): void {
    this.incidents.push({ kind, startLine: this.recStartLine, endLine, chars: this.recChars, head: this.head });
  }

  private reset(): void {
    this.rec = [];
    this.recChars = 0;
    this.recBreaks = 0;
    this.dropping = false;
    this.head = '';
  }
}
