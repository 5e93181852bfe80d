// The results: a table on stdout, targets checked, everything in a JSON file.
import { round } from './stats.js';

const fmtNum = (x) => {
  if (x === undefined || x === null || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
};

export function fmtValue(v, unit) {
  if (v === undefined || v === null) return 'not measured';
  if (!unit && Number.isInteger(v)) return String(v);
  if (unit === 's') return `${fmtNum(v)} s`;
  if (unit === 'MB') return `${fmtNum(v)} MB`;
  if (unit === 'µs') return `${fmtNum(v)} µs`;
  return unit ? `${fmtNum(v)} ${unit}` : fmtNum(v);
}

export const fmtRatio = (r) => (r === undefined || r === null || !Number.isFinite(r) ? '' : `${r.toFixed(2)}×`);

function pad(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd());
}

/** sections: [{title, rows: [{label, value, unit, runs, vs, ratio, target, holds, note}]}] */
export function renderTable(sections) {
  const out = [];
  for (const s of sections) {
    out.push('', s.title);
    const rows = [['  item', 'median', 'runs', 'ratio', 'vs', 'target', 'holds']];
    for (const r of s.rows) {
      rows.push([
        `  ${r.label}`,
        r.value === undefined ? (r.note ?? 'not measured') : fmtValue(r.value, r.unit),
        r.runs ?? '',
        fmtRatio(r.ratio),
        r.vs ?? '',
        r.target ?? '',
        r.holds === undefined ? '' : r.holds ? 'yes' : 'NO',
      ]);
    }
    out.push(...pad(rows));
  }
  return out.join('\n');
}

/** The same table as Markdown (pasted into BENCHMARKS.md). */
export function renderMarkdown(sections) {
  const out = [];
  for (const s of sections) {
    out.push('', `**${s.title}**`, '', '| item | median | runs | ratio | vs | target | holds |', '|---|---:|---:|---:|---|---|---|');
    for (const r of s.rows) {
      const value = r.value === undefined ? (r.note ?? 'not measured') : fmtValue(r.value, r.unit);
      out.push(`| ${r.label} | ${value} | ${r.runs ?? ''} | ${fmtRatio(r.ratio)} | ${r.vs ?? ''} | ${r.target ?? ''} | ${r.holds === undefined ? '' : r.holds ? 'yes' : '**no**'} |`);
    }
  }
  return out.join('\n');
}

export function jsonRows(sections) {
  return sections.map((s) => ({ title: s.title, rows: s.rows.map((r) => ({ ...r, value: round(r.value, 4), ratio: round(r.ratio, 4) })) }));
}
