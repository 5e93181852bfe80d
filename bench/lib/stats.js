// Medians and ratios.
export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function ratio(a, b) {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/** Figures of several runs: {runs: [...], median}. */
export function figure(values, unit) {
  return { unit, runs: values.map((v) => (typeof v === 'number' ? round(v) : v)), median: round(median(values)) };
}

export function round(x, digits = 3) {
  if (x === undefined || x === null || !Number.isFinite(x)) return x;
  const p = 10 ** Math.max(0, digits - Math.max(0, Math.floor(Math.log10(Math.abs(x) || 1)) + 1) + 1);
  return Math.round(x * p) / p;
}
