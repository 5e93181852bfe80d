/**
 * The record guard (src/csv/record-guard.ts) must see records exactly where csv-parse
 * does, or it would cut a good row or let a huge one through. Random CSV-ish text, cut
 * into random chunks, is read by csv-parse with and without the guard in front.
 */
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordGuard } from '../../src/csv/record-guard.js';

const OPTIONS = {
  delimiter: ',',
  info: true as const,
  raw: true as const,
  relax_column_count: true,
  skip_empty_lines: true,
  relax_quotes: true,
  record_delimiter: ['\r\n', '\n', '\r'],
};

interface Parsed {
  records: { record: string[]; lines: number }[];
  unclosed: boolean;
}

function parseAll(text: string): Parsed {
  let unclosed = false;
  const rows = parse(text, {
    ...OPTIONS,
    skip_records_with_error: true,
    on_skip: (err) => {
      if ((err as { code?: string }).code === 'CSV_QUOTE_NOT_CLOSED') unclosed = true;
      return undefined;
    },
  }) as unknown as { record: string[]; info: { lines: number } }[];
  return { records: rows.map((r) => ({ record: r.record, lines: r.info.lines })), unclosed };
}

function guarded(text: string, cuts: number[], max: number): { out: string; guard: RecordGuard } {
  const guard = new RecordGuard({ delimiter: ',', maxRecordChars: max });
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  let out = '';
  let at = 0;
  for (const p of [...points, text.length]) {
    out += guard.push(text.slice(at, p));
    at = p;
  }
  return { out: out + guard.end(), guard };
}

const csvText = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' '), maxLength: 80 });
const cutsArb = fc.array(fc.nat(100), { maxLength: 8 });

describe('record guard', () => {
  it('changes no row when no record is too long and every quote closes (record breaks may become LF)', () => {
    fc.assert(
      fc.property(csvText, cutsArb, (text, cuts) => {
        const { out, guard } = guarded(text, cuts, 1_000_000);
        const direct = parseAll(text);
        // it finds an unclosed quote exactly when csv-parse does
        expect(guard.incidents.some((i) => i.kind === 'unclosed_quote')).toBe(direct.unclosed);
        if (!direct.unclosed) {
          expect(parseAll(out)).toEqual(direct);
          expect(out.replace(/\r\n?/g, '\n')).toBe(text.replace(/\r\n?/g, '\n'));
          expect(guard.incidents).toEqual([]);
        } else {
          // the open record is taken out; everything before it is read the same
          const after = parseAll(out);
          expect(after.unclosed).toBe(false);
          expect(after.records).toEqual(direct.records);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('takes out records longer than the limit and keeps every other row and its line number', () => {
    fc.assert(
      fc.property(csvText, cutsArb, fc.integer({ min: 1, max: 12 }), (text, cuts, max) => {
        const { out, guard } = guarded(text, cuts, max);
        const direct = parseAll(text);
        const after = parseAll(out);
        expect(after.unclosed).toBe(false);
        // the rows read after the guard are rows of the file, in order, on the same line
        // (csv-parse counts a CRLF inside quotes twice: lines compared without CR)
        const same = (a: { record: string[]; lines: number }, b: { record: string[]; lines: number }) =>
          JSON.stringify(a.record) === JSON.stringify(b.record) && (text.includes('\r') || a.lines === b.lines);
        let k = 0;
        for (const r of after.records) {
          while (k < direct.records.length && !same(direct.records[k], r)) k++;
          expect(k, JSON.stringify({ r, direct: direct.records })).toBeLessThan(direct.records.length);
          k++;
        }
        const oversize = guard.incidents.filter((i) => i.kind === 'oversize');
        for (const x of oversize) expect(x.chars).toBeGreaterThan(max);
        // rows kept + rows taken out = rows of the file (a quote open at the end is neither)
        expect(after.records.length + oversize.length).toBe(direct.records.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('numbers each record by the physical line it starts on', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n'), maxLength: 60 }), cutsArb, (text, cuts) => {
        const { out, guard } = guarded(text, cuts, 1_000_000);
        const records = parseAll(out).records;
        const starts = records.map(() => guard.nextStart());
        // with LF only, a record starts as many lines before its last one as its fields hold
        expect(starts).toEqual(records.map((r) => r.lines - r.record.join('').split('\n').length + 1));
      }),
      { numRuns: 3000 },
    );
  });

  it('counts a CRLF as one line, inside quotes too, across chunk edges, and keeps later rows on their lines', () => {
    const text = 'h\r\n"a\r\nb"\r\n\r\nxxxxxxxx\r\nc\rd\n';
    const g = guarded(text, [2, 3, 9, 10, 11, 26], 7);
    expect(g.guard.incidents).toEqual([{ kind: 'oversize', startLine: 5, endLine: 5, chars: 8, head: 'xxxxxxxx' }]);
    const records = parseAll(g.out).records;
    expect(records.map((r) => r.record)).toEqual([['h'], ['a\r\nb'], ['c'], ['d']]);
    expect(records.map(() => g.guard.nextStart())).toEqual([1, 2, 6, 7]);
  });
});
