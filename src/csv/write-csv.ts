/**
 * Writing CSV for people to open in spreadsheets. A cell that a spreadsheet would run
 * as a formula (leading =, @, tab, CR, or + / - not followed by a plain number) gets a
 * leading apostrophe, so an exported name like `=HYPERLINK(...)` stays text.
 */
const PLAIN_SIGNED_NUMBER = /^[+-][\d\s().-]*$/;

export function neutralizeFormula(value: string): string {
  if (value === '') return value;
  const c = value[0];
  if (c === '=' || c === '@' || c === '\t' || c === '\r') return `'${value}`;
  if ((c === '+' || c === '-') && !PLAIN_SIGNED_NUMBER.test(value)) return `'${value}`;
  return value;
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s: string;
  if (Array.isArray(value)) s = value.join('|');
  else if (value instanceof Date) s = value.toISOString();
  else if (typeof value === 'object') s = JSON.stringify(value);
  else s = String(value);
  s = neutralizeFormula(s);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: unknown[]): string {
  return values.map(csvCell).join(',') + '\r\n';
}
