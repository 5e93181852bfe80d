import { describe, expect, it } from 'vitest';
import { csvLine, neutralizeFormula } from '../../src/csv/write-csv.js';

describe('CSV writing', () => {
  it.each(['=HYPERLINK("http://evil","x")', '@SUM(A1)', '+cmd|x', '-2+3+cmd', '\t=1'])('neutralizes %s', (v) =>
    expect(neutralizeFormula(v).startsWith("'")).toBe(true),
  );
  it('keeps phone numbers and plain negatives as they are', () => {
    expect(neutralizeFormula('+14155552671')).toBe('+14155552671');
    expect(neutralizeFormula('-12.5')).toBe('-12.5');
  });
  it('quotes cells with commas, quotes and newlines; joins lists with |', () => {
    expect(csvLine(['a,b', 'say "hi"', 'l1\nl2', ['x', 'y'], null])).toBe('"a,b","say ""hi""","l1\nl2",x|y,\r\n');
  });
});
