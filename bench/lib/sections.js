// The result tables: one section per item, each row a median with its ratio to the
// baseline measured in the same run and, where issue 6 sets one, the target and whether
// it holds.
import { statSync } from 'node:fs';
import { median as med, ratio } from './stats.js';

const mb = (kb) => (kb ? kb / 1024 : undefined);
const sec = (ms) => (ms === undefined ? undefined : ms / 1000);
const NOT = 'not measured';

function importSection(R, o) {
  const { ONLY, ROWS, SMALL } = o;
  const I = R.import;
  const rows = [];
  const floor = med(I.floors.map((f) => f.ms));
  const peer = med(I.peers.map((f) => f.ms));
  const cli = med(I.ms.map((m) => m.first.ms));
  const n = I.ms.length;
  if (ONLY.has('import')) {
    const again = med(I.ms.map((m) => m.again?.ms));
    const rss = med(I.ms.map((m) => m.first.peakRssKb));
    const rssSmall = med(I.smallRuns.map((m) => m.peakRssKb));
    rows.push({ label: 'psql \\copy into a plain table (floor)', value: sec(floor), unit: 's', runs: I.floors.length });
    rows.push(
      I.pgloaderOk
        ? { label: 'pgloader into a plain table (peer)', value: sec(peer), unit: 's', runs: I.peers.length, ratio: ratio(peer, floor), vs: 'floor' }
        : { label: 'pgloader into a plain table (peer)', note: `${NOT}: pgloader missing` },
    );
    const vsPeer = ratio(cli, peer);
    rows.push({ label: 'member-sync import', value: sec(cli), unit: 's', runs: n, ratio: vsPeer, vs: 'pgloader', target: '≤ 1.5× pgloader', holds: vsPeer === undefined ? undefined : vsPeer <= 1.5 });
    rows.push({ label: 'member-sync import, vs the floor', value: sec(cli), unit: 's', runs: n, ratio: ratio(cli, floor), vs: 'floor' });
    rows.push(
      ROWS === 1_000_000
        ? { label: 'member-sync import, absolute', value: sec(cli), unit: 's', runs: n, target: '≤ 30 s', holds: cli === undefined ? undefined : cli <= 30_000 }
        : { label: 'member-sync import, absolute', value: sec(cli), unit: 's', runs: n, target: '≤ 30 s at 1M rows (n/a)' },
    );
    rows.push({ label: 'member-sync import, throughput', value: cli ? ROWS / (cli / 1000) : undefined, unit: 'rows/s', runs: n });
    rows.push({ label: `member-sync peak RSS, ${ROWS.toLocaleString('en-US')} rows`, value: mb(rss), unit: 'MB', runs: n, target: '≤ 300 MB', holds: rss === undefined ? undefined : rss / 1024 <= 300 });
    const flat = ratio(rss, rssSmall);
    rows.push({
      label: `member-sync peak RSS, ${SMALL.toLocaleString('en-US')} rows`,
      value: mb(rssSmall),
      unit: 'MB',
      runs: I.smallRuns.length,
      ratio: flat,
      vs: `RSS at ${ROWS.toLocaleString('en-US')} / this`,
      target: 'flat: 0.8–1.2×',
      holds: flat === undefined ? undefined : flat >= 0.8 && flat <= 1.2,
    });
    const re = ratio(again, cli);
    const un = I.ms.at(-1)?.again?.summary;
    rows.push({
      label: `re-import, same rows, other file${un ? ` (${un.unchanged.toLocaleString('en-US')} unchanged)` : ''}`,
      value: sec(again),
      unit: 's',
      runs: I.ms.filter((m) => m.again).length,
      ratio: re,
      vs: 'first import',
      target: '≤ 0.5×',
      holds: re === undefined ? undefined : re <= 0.5,
    });
  }
  if (ONLY.has('worker')) {
    const W = R.worker.runs;
    const w = med(W.map((x) => x.ms));
    const vs = ratio(w, cli);
    rows.push({ label: 'worker: drop → processed/', value: sec(w), unit: 's', runs: W.length, ratio: vs, vs: 'CLI import', target: '≤ 1.2×', holds: vs === undefined ? undefined : vs <= 1.2 });
    rows.push({ label: 'worker: drop → import start (of the above)', value: sec(med(W.map((x) => x.pickupMs))), unit: 's', runs: W.filter((x) => x.pickupMs !== undefined).length });
    rows.push({ label: 'worker: peak RSS', value: mb(med(W.map((x) => x.peakRssKb))), unit: 'MB', runs: W.length });
  }
  const bytes = R.import.file ? statSync(R.import.file).size : 0;
  return { title: `Import: ${ROWS.toLocaleString('en-US')} rows (${(bytes / 1e6).toFixed(1)} MB), a fresh database each run`, rows };
}

function pullSection(R, o) {
  const { PEOPLE } = o;
  const P = R.pull;
  const floor = med(P.floors.map((f) => f.ms));
  const floorRate = floor ? PEOPLE / (floor / 1000) : undefined;
  const pull = med(P.pulls.map((p) => p.ms));
  const rate = pull ? PEOPLE / (pull / 1000) : undefined;
  return {
    title: `Pull: ${PEOPLE.toLocaleString('en-US')} people from the vocdoni simulator, pages of 100, a fresh database each run`,
    rows: [
      { label: 'simulator serving every page once (first read, during setup)', value: P.simulatorFirstRead ? PEOPLE / (P.simulatorFirstRead.ms / 1000) : undefined, unit: 'rec/s', runs: P.simulatorFirstRead ? 1 : 0 },
      { label: 'pages only, replayed (floor)', value: floorRate, unit: 'rec/s', runs: P.floors.length },
      { label: 'member-sync pull, end to end', value: rate, unit: 'rec/s', runs: P.pulls.length, ratio: ratio(rate, floorRate), vs: 'floor rate', target: '≥ 5,000 rec/s', holds: rate === undefined ? undefined : rate >= 5000 },
      { label: 'member-sync pull, wall time', value: sec(pull), unit: 's', runs: P.pulls.length },
      (() => {
        const again = med(P.pulls.filter((p) => p.againMs !== undefined).map((p) => p.againMs));
        const r = ratio(again, pull);
        return { label: 'member-sync pull again, unchanged source', value: sec(again), unit: 's', runs: P.pulls.length, ratio: r, vs: 'first pull', target: '≤ 0.3× first', holds: r === undefined ? undefined : r <= 0.3 };
      })(),
      { label: 'member-sync pull, peak RSS', value: mb(med(P.pulls.map((p) => p.peakRssKb))), unit: 'MB', runs: P.pulls.length },
    ],
  };
}

function pushSection(R, o) {
  const { PEOPLE, CONCURRENCY, RATE, AGAIN_CAP_MS } = o;
  const U = R.push;
  const rawMs = med(U.raw.map((x) => x.ms));
  const rawRate = rawMs ? PEOPLE / (rawMs / 1000) : undefined;
  const rawCpu = med(U.raw.map((x) => (x.cpuMs * 1000) / x.requests));
  const rate = med(U.free.map((x) => x.summary.requests / (x.ms / 1000)));
  const cpu = med(U.free.map((x) => (x.cpuMs * 1000) / x.summary.requests));
  const reqs = med(U.free.map((x) => x.summary.requests));
  const measured = U.again.filter((x) => !x.capped);
  const capped = U.again.filter((x) => x.capped);
  const againReq = measured.length ? Math.max(...measured.map((x) => x.summary.requests)) : undefined;
  const againMs = capped.length ? undefined : med(measured.map((x) => x.ms));
  const achieved = med(U.limited.map((x) => x.achieved));
  const limited429 = U.limited.length ? Math.max(...U.limited.map((x) => x.gate.limited)) : undefined;
  const clientRate = med(U.limited.map((x) => x.summary.requests / (x.ms / 1000)));
  const rr = ratio(achieved, RATE);
  return {
    title: `Push: ${PEOPLE.toLocaleString('en-US')} members never pushed to the connection, to the convio simulator (one update each), concurrency ${CONCURRENCY}`,
    rows: [
      { label: 'bare HTTP client (floor)', value: rawRate, unit: 'req/s', runs: U.raw.length },
      { label: 'bare HTTP client, CPU per request', value: rawCpu, unit: 'µs', runs: U.raw.length },
      { label: `member-sync push, no rate limit${reqs ? ` (${Math.round(reqs).toLocaleString('en-US')} requests)` : ''}`, value: rate, unit: 'req/s', runs: U.free.length, ratio: ratio(rate, rawRate), vs: 'floor rate', target: '≥ 1,500 req/s', holds: rate === undefined ? undefined : rate >= 1500 },
      { label: 'member-sync push, CPU per request', value: cpu, unit: 'µs', runs: U.free.length, ratio: ratio(cpu, rawCpu), vs: 'floor CPU' },
      { label: `limited to ${RATE}/s: rate the server saw (${U.limit ?? '—'} members)`, value: achieved, unit: 'req/s', runs: U.limited.length, ratio: rr, vs: `${RATE}/s`, target: '0.95–1.05×', holds: rr === undefined ? undefined : rr >= 0.95 && rr <= 1.05 },
      { label: `limited to ${RATE}/s: rate over the whole push`, value: clientRate, unit: 'req/s', runs: U.limited.length },
      { label: `limited to ${RATE}/s: 429 answers (most in a run)`, value: limited429, unit: '', runs: U.limited.length, target: '0', holds: limited429 === undefined ? undefined : limited429 === 0 },
      capped.length
        ? { label: 'second push at once: requests', note: `${NOT}: stopped after ${AGAIN_CAP_MS / 1000} s`, runs: U.again.length, target: '0' }
        : { label: 'second push at once: requests (most in a run)', value: againReq, unit: '', runs: measured.length, target: '0', holds: againReq === undefined ? undefined : againReq === 0 },
      capped.length
        ? { label: 'second push at once: time', note: `> ${AGAIN_CAP_MS / 1000} s (stopped there in ${capped.length} of ${U.again.length} runs)`, runs: U.again.length, target: '≤ 5 s', holds: false }
        : { label: 'second push at once: time', value: sec(againMs), unit: 's', runs: measured.length, target: '≤ 5 s', holds: againMs === undefined ? undefined : againMs <= 5000 },
    ],
  };
}

/**
 * The result tables from the runs in R. o: {ONLY, ROWS, SMALL, PEOPLE, RUNS, CONCURRENCY,
 * RATE, AGAIN_CAP_MS}. Notes about short medians are pushed onto `notes`.
 */
export function buildSections(R, o, notes) {
  const { ONLY, RUNS } = o;
  const sections = [];
  if (ONLY.has('import') || ONLY.has('worker')) sections.push(importSection(R, o));
  if (ONLY.has('pull')) sections.push(pullSection(R, o));
  if (ONLY.has('push')) sections.push(pushSection(R, o));
  const short = sections.flatMap((s) => s.rows.filter((r) => typeof r.runs === 'number' && r.runs > 0 && r.runs < RUNS && !/first read/.test(r.label)).map((r) => r.label));
  if (short.length) notes.push(`medians of fewer than ${RUNS} runs: ${[...new Set(short)].join('; ')}`);
  for (const s of sections) for (const r of s.rows) if (r.value === undefined && !r.note) r.note = NOT;
  return sections;
}
