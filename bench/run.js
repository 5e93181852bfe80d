#!/usr/bin/env node
// `npm run bench [-- options]`: member-sync against the tools people would otherwise
// script with, on this machine, in one run. See BENCHMARKS.md for the method.
//
// Every figure is the median of --runs runs (default 3) and is reported as a ratio
// against a baseline measured in the same run. Results: a table on stdout, progress on
// stderr, and .bench/bench-<time>.json (plus .bench/latest.json).
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { memberSyncImport, copyFloor, pgloader } from './items/import.js';
import { fetchPages, pullCli } from './items/pull.js';
import { memberSyncPush, rawPush } from './items/push.js';
import { workerImport } from './items/worker.js';
import { generated, sameRowsOtherFile } from './lib/files.js';
import { ADMIN_URL, createDatabase, dropAll, dropDatabase, serverVersion } from './lib/pg.js';
import { check, lastJson, live, run, TimeLimit } from './lib/proc.js';
import { fmtRatio, fmtValue, jsonRows, renderMarkdown, renderTable } from './lib/report.js';
import { buildSections } from './lib/sections.js';
import { machine, setupTools, versions } from './lib/setup.js';
import { startSims } from './lib/sims.js';
import { round } from './lib/stats.js';

const HELP = `npm run bench -- [options]

  --rows N             rows of the import file (default 1000000; 100000 for a quick run)
  --runs K             runs per figure, the median is reported (default 3)
  --people N           people in the pull and push simulators (default 100000)
  --only LIST          some of: import,pull,push,worker (default all)
  --budget SECONDS     repeat the --rows items (import, re-import, worker) only while the
                       runs still to come should end within this many seconds (default 780);
                       COPY and pgloader are repeated up to the time limit
  --time-limit SECONDS stop whatever runs at this many seconds from the start and report
                       what was measured (default 840: with the build, the whole bench under 15 minutes)
  --again-cap SECONDS  stop the second push after this long (default 15; its target is 5 s)
  --concurrency C      rateLimit.concurrency of the push connections (default 4, the default)
  --rate R             perSecond of the rate-limited push (default 200)
  --limited-seconds S  length of each rate-limited push (default 5)

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), a
PostgreSQL role that may create databases; the bench makes and drops its own.

Examples:
  npm run bench -- --rows 100000
  npm run bench
  npm run bench -- --only import --rows 1000000 --runs 5`;

const { values: opt } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    people: { type: 'string', default: '100000' },
    only: { type: 'string', default: 'import,pull,push,worker' },
    budget: { type: 'string', default: '780' },
    'time-limit': { type: 'string', default: '840' },
    'again-cap': { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '4' },
    rate: { type: 'string', default: '200' },
    'limited-seconds': { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  process.stdout.write(HELP + '\n');
  process.exit(0);
}
function int(name, min = 1) {
  const n = Number(String(opt[name]).replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`bench: --${name}: expected an integer ≥ ${min}, got '${opt[name]}'\n`);
    process.exit(2);
  }
  return n;
}
const ROWS = int('rows', 10);
const RUNS = int('runs');
const PEOPLE = int('people', 100);
const BUDGET_MS = int('budget', 0) * 1000;
const DEADLINE_MS = int('time-limit', 1) * 1000;
const AGAIN_CAP_MS = int('again-cap', 1) * 1000;
const CONCURRENCY = int('concurrency');
const RATE = int('rate');
const LIMITED_S = int('limited-seconds');
const ONLY = new Set(opt.only.split(',').map((s) => s.trim()).filter(Boolean));
for (const k of ONLY) {
  if (!['import', 'pull', 'push', 'worker'].includes(k)) {
    process.stderr.write(`bench: --only: unknown item '${k}'; expected import, pull, push, worker\n`);
    process.exit(2);
  }
}
const SMALL = Math.max(10, Math.round(ROWS / 10));

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const started = new Date();
const stamp = started.toISOString().replace(/[:.]/g, '-');
const T0 = performance.now();
const elapsedS = () => (performance.now() - T0) / 1000;
const notes = [];
const extra = {};
const children = new Set();

const ctx = {
  root: ROOT,
  bin: path.join(ROOT, 'bin', 'member-sync.js'),
  dataDir: path.join(ROOT, '.bench', 'data'),
  tmpDir: path.join(ROOT, '.bench', 'tmp', stamp),
  configFile: undefined,
  /** ms left before the time limit */
  left: () => Math.max(0, DEADLINE_MS - (performance.now() - T0)),
  say: (msg) => process.stderr.write(`[${elapsedS().toFixed(0).padStart(4)} s] ${msg}\n`),
  note: (key, value) => (extra[key] = value),
  env(more = {}) {
    const env = { ...process.env };
    for (const k of ['DATABASE_URL', 'REDIS_URL', 'MEMBER_SYNC_CONFIG', 'MEMBER_SYNC_DATA_DIR', 'MEMBER_SYNC_PG_PORT']) delete env[k];
    return { ...env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...(this.configFile ? { MEMBER_SYNC_CONFIG: this.configFile } : {}), ...more };
  },
  track(child) {
    children.add(child);
    child.on('exit', () => children.delete(child));
  },
};
mkdirSync(ctx.dataDir, { recursive: true });
mkdirSync(ctx.tmpDir, { recursive: true });

let sims;
async function cleanup() {
  for (const c of [...children, ...live]) c.kill('SIGKILL');
  await sims?.close().catch(() => undefined);
  await dropAll();
  rmSync(ctx.tmpDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    process.stderr.write(`\nbench: ${sig}: dropping the bench databases and stopping\n`);
    cleanup().finally(() => process.exit(130));
  });
}

// ----------------------------------------------------------------------- the items
//
// One round measures every item once; rounds repeat up to --runs times while the time
// budget allows, so every item is sampled under the same machine load, and an item that
// is slow today still leaves time for the others.

const R = {
  import: { floors: [], peers: [], ms: [], smallRuns: [] },
  pull: { floors: [], pulls: [] },
  push: { raw: [], free: [], again: [], limited: [] },
  worker: { runs: [] },
};
/** the members to push, imported once; each run pushes from a copy of it */
let pushTemplate;

async function setupPull() {
  ctx.say(`pull: first read of ${PEOPLE} people from the vocdoni simulator (fills the replay front)`);
  const warm = await fetchPages(ctx, 'vocdoni-bench', PEOPLE);
  R.pull.simulatorFirstRead = { ms: warm.ms, pages: warm.pages };
}

async function setupPush() {
  const file = await generated(ctx, PEOPLE, { seed: 2, dupRate: 0 });
  pushTemplate = await createDatabase('pushtpl');
  ctx.say(`push: setup: member-sync import of ${PEOPLE} distinct people (the members to push; each run pushes from a copy)`);
  const setup = await run(process.execPath, [ctx.bin, 'import', file, '--json'], { env: ctx.env({ DATABASE_URL: pushTemplate.url }), cwd: ctx.tmpDir, timeoutMs: ctx.left() });
  check(setup, 'push setup import');
  const s = lastJson(setup.stdout);
  if (s.created !== PEOPLE) throw new Error(`push setup: ${s.created} members created, expected ${PEOPLE}`);
  R.push.setupImportMs = setup.ms;
  R.push.limit = RATE * LIMITED_S;
}

/** The items whose size is --rows: COPY, pgloader, member-sync import and re-import, worker. */
async function bigPart(r, files) {
  const tag = `${r}/${RUNS}`;
  if (ONLY.has('import')) {
    ctx.say(`import ${tag}: psql \\copy of ${ROWS} rows (floor)`);
    R.import.floors.push(await copyFloor(ctx, files.file, ROWS));
    if (R.import.pgloaderOk) {
      ctx.say(`import ${tag}: pgloader (peer)`);
      R.import.peers.push(await pgloader(ctx, files.file, ROWS));
    }
    ctx.say(`import ${tag}: member-sync import of ${ROWS} rows, then the same rows under another file name`);
    R.import.ms.push(await memberSyncImport(ctx, files.file, ROWS, files.lfFile));
  }
  if (ONLY.has('worker')) {
    ctx.say(`worker ${tag}: the ${ROWS}-row file dropped into a running member-sync worker's drop folder`);
    R.worker.runs.push(await workerImport(ctx, files.file, ROWS, r));
  }
}

/** The items of fixed size: the small import (peak RSS), pull, push. */
async function fixedPart(r, files) {
  const tag = `${r}/${RUNS}`;
  if (ONLY.has('import')) {
    ctx.say(`import ${tag}: member-sync import of ${SMALL} rows (peak RSS at the small size)`);
    R.import.smallRuns.push((await memberSyncImport(ctx, files.small, SMALL)).first);
  }
  if (ONLY.has('pull')) {
    ctx.say(`pull ${tag}: pages only, replayed (floor)`);
    R.pull.floors.push(await fetchPages(ctx, 'vocdoni-bench', PEOPLE));
    ctx.say(`pull ${tag}: member-sync pull vocdoni-bench --full into a fresh database`);
    R.pull.pulls.push(await pullCli(ctx, 'vocdoni-bench', PEOPLE));
  }
  if (ONLY.has('push')) {
    ctx.say(`push ${tag}: bare HTTP client, ${PEOPLE} Convio updates (floor)`);
    R.push.raw.push(await rawPush(ctx, sims.urls.convio, PEOPLE, 2, CONCURRENCY));
    const db = await createDatabase('push', pushTemplate);
    try {
      ctx.say(`push ${tag}: member-sync push of ${PEOPLE} members, no rate limit`);
      const first = await memberSyncPush(ctx, db.url, 'convio-free');
      if (first.summary.requests < PEOPLE) throw new Error(`push: ${first.summary.requests} requests for ${PEOPLE} members`);
      R.push.free.push(first);
      ctx.say(`push ${tag}: the same push again at once (stopped after ${AGAIN_CAP_MS / 1000} s)`);
      R.push.again.push(await memberSyncPush(ctx, db.url, 'convio-free', { capMs: AGAIN_CAP_MS }));
      ctx.say(`push ${tag}: member-sync push of ${R.push.limit} members at ${RATE}/s through the rate-limit gate`);
      await sims.resetGate();
      const l = await memberSyncPush(ctx, db.url, 'convio-gated', { limit: R.push.limit });
      const gate = (await sims.stats()).gate;
      const span = (gate.last - gate.first) / 1000;
      R.push.limited.push({ ...l, gate, achieved: span > 0 ? (gate.passed - 1) / span : undefined });
    } finally {
      await dropDatabase(db);
    }
  }
}

/** COPY and pgloader at --rows: how long one run of both took last time. */
const baselineMs = () => (R.import.floors.at(-1)?.ms ?? 0) + (R.import.peers.at(-1)?.ms ?? 0);

/** COPY and pgloader alone, in a round that has no room for the member-sync import. */
async function baselines(r, files) {
  ctx.say(`import ${r}/${RUNS}: psql \\copy of ${ROWS} rows (floor)`);
  R.import.floors.push(await copyFloor(ctx, files.file, ROWS));
  if (R.import.pgloaderOk) {
    ctx.say(`import ${r}/${RUNS}: pgloader (peer)`);
    R.import.peers.push(await pgloader(ctx, files.file, ROWS));
  }
}

/**
 * The baselines get their full count of runs when rounds were cut short, in the time
 * left before the time limit (less a margin for the report).
 */
async function fillBaselines(files) {
  const fits = (ms) => elapsedS() * 1000 + ms * 1.1 <= DEADLINE_MS - 20_000;
  const fill = async (list, what, fn) => {
    while (list.length > 0 && list.length < RUNS && fits(list.at(-1).ms)) {
      ctx.say(`${what}, run ${list.length + 1}/${RUNS}`);
      list.push(await fn());
    }
  };
  if (ONLY.has('import')) {
    await fill(R.import.floors, 'import: psql \\copy (floor)', () => copyFloor(ctx, files.file, ROWS));
    if (R.import.pgloaderOk) await fill(R.import.peers, 'import: pgloader (peer)', () => pgloader(ctx, files.file, ROWS));
  }
  if (ONLY.has('pull')) await fill(R.pull.floors, 'pull: pages only (floor)', () => fetchPages(ctx, 'vocdoni-bench', PEOPLE));
  if (ONLY.has('push')) await fill(R.push.raw, 'push: bare HTTP client (floor)', () => rawPush(ctx, sims.urls.convio, PEOPLE, 2, CONCURRENCY));
}

/**
 * Rounds 1..RUNS. The fixed-size items run in every round. The --rows items run in round
 * 1, and in later rounds only while the time budget leaves room for them and for the
 * fixed items of the rounds still to come (only the big import may have fewer runs).
 */
async function rounds(files) {
  let fixedMs = 0;
  let bigMs = 0;
  let bigRounds = 0;
  const hasBig = ONLY.has('import') || ONLY.has('worker');
  const hasFixed = ONLY.has('import') || ONLY.has('pull') || ONLY.has('push');
  try {
    for (let r = 1; r <= RUNS; r++) {
      const big = hasBig && (r === 1 || elapsedS() * 1000 + (RUNS - r + 1) * fixedMs + bigMs * 1.05 <= BUDGET_MS);
      if (hasBig && !big && bigRounds === r - 1) {
        notes.push(`time budget (${BUDGET_MS / 1000} s): the ${ROWS.toLocaleString('en-US')}-row items (import, re-import${ONLY.has('worker') ? ', worker' : ''}) take ${(bigMs / 1000).toFixed(0)} s a round, so they were run ${bigRounds === 1 ? 'once' : `${bigRounds} times`} instead of ${RUNS} times`);
        ctx.say(`budget: no room for another ${ROWS}-row round (${(bigMs / 1000).toFixed(0)} s); the fixed-size items go on`);
      }
      if (big) {
        const t = performance.now();
        await bigPart(r, files);
        bigMs = performance.now() - t;
        bigRounds++;
      } else if (ONLY.has('import') && elapsedS() * 1000 + (RUNS - r + 1) * fixedMs + baselineMs() * 1.1 <= BUDGET_MS) {
        await baselines(r, files);
      }
      if (hasFixed) {
        const t = performance.now();
        await fixedPart(r, files);
        fixedMs = performance.now() - t;
      }
    }
    await fillBaselines(files);
  } catch (err) {
    if (!(err instanceof TimeLimit)) throw err;
    notes.push(`time limit (${DEADLINE_MS / 1000} s) reached: ${err.message}; what came after it was not measured`);
    ctx.say(`time limit: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------- main

async function main() {
  ctx.say(`member-sync bench: ${ROWS} rows, up to ${RUNS} runs, ${PEOPLE} people for pull/push, items ${[...ONLY].join(',')}; budget ${BUDGET_MS / 1000} s, time limit ${DEADLINE_MS / 1000} s`);
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build (npm run bench does)');
  const pgloaderOk = setupTools(ctx, notes, ONLY.has('import'));
  const pgVersion = await serverVersion().catch((err) => {
    throw new Error(`cannot reach PostgreSQL at ${ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} (BENCH_DATABASE_URL): ${err.message}`);
  });
  const mach = machine();
  const vers = versions(ROOT, pgVersion, pgloaderOk);
  R.import.pgloaderOk = pgloaderOk;

  const files = {};
  const makeFiles = async () => {
    if (!ONLY.has('import') && !ONLY.has('worker')) return;
    files.file = await generated(ctx, ROWS);
    R.import.file = files.file;
    if (ONLY.has('import')) {
      files.small = await generated(ctx, SMALL);
      files.lfFile = await sameRowsOtherFile(files.file);
    }
  };

  try {
    if (ONLY.has('pull') || ONLY.has('push')) {
      ctx.say(`starting the simulators (${PEOPLE} people in ${['pull', 'push'].filter((k) => ONLY.has(k)).map((k) => (k === 'pull' ? 'vocdoni' : 'convio')).join(' and ')})`);
      const orgAddress = `0x${'be'.repeat(20)}`;
      sims = await startSims({
        ...(ONLY.has('pull') ? { vocdoni: { people: PEOPLE, seed: 3, orgAddress } } : {}),
        ...(ONLY.has('push') ? { convio: { people: PEOPLE, seed: 2 }, gate: { perSecond: RATE, burst: Math.max(1, Math.round(RATE / 10)) } } : {}),
      });
      const connections = {};
      if (sims.urls.vocdoniReplay) {
        connections['vocdoni-bench'] = {
          kind: 'vocdoni',
          baseUrl: sims.urls.vocdoniReplay,
          credentials: { token: 'sim-vocdoni-token' },
          rateLimit: { perSecond: 0, concurrency: 4 },
          options: { organizationAddress: orgAddress, pageSize: 100 },
        };
      }
      const convio = (url, perSecond) => ({
        kind: 'convio',
        baseUrl: url,
        credentials: { apiKey: 'convio-sim-api-key', loginName: 'sim-admin', loginPassword: 'sim-admin-password' },
        rateLimit: { perSecond, concurrency: CONCURRENCY },
      });
      if (sims.urls.convio) {
        connections['convio-free'] = convio(sims.urls.convio, 0);
        connections['convio-gated'] = convio(sims.urls.gate, RATE);
      }
      ctx.configFile = path.join(ctx.tmpDir, 'bench-config.yaml');
      writeFileSync(ctx.configFile, JSON.stringify({ connections }, null, 2));
    }
    // the simulator's first read is slow and single-threaded: the other setup runs beside it
    await Promise.all([
      ONLY.has('pull') ? setupPull() : undefined,
      (async () => {
        await makeFiles();
        if (ONLY.has('push')) await setupPush();
      })(),
    ]);
    await rounds(files);
  } catch (err) {
    if (!(err instanceof TimeLimit)) throw err;
    notes.push(`time limit (${DEADLINE_MS / 1000} s) reached during the setup: ${err.message}`);
  } finally {
    await dropDatabase(pushTemplate).catch(() => undefined);
  }

  const sections = buildSections(R, { ONLY, ROWS, SMALL, PEOPLE, RUNS, CONCURRENCY, RATE, AGAIN_CAP_MS }, notes);
  const targets = sections.flatMap((s) => s.rows.filter((r) => r.target && r.holds !== undefined).map((r) => ({ section: s.title, item: r.label, target: r.target, value: r.value, unit: r.unit, ratio: r.ratio, holds: r.holds, runs: r.runs, ...(r.value === undefined ? { note: r.note } : {}) })));
  const finished = new Date();
  const report = {
    started: started.toISOString(),
    finished: finished.toISOString(),
    durationS: round(elapsedS()),
    args: { rows: ROWS, runs: RUNS, people: PEOPLE, only: [...ONLY], budgetS: BUDGET_MS / 1000, timeLimitS: DEADLINE_MS / 1000, pushConcurrency: CONCURRENCY, rate: RATE, limitedSeconds: LIMITED_S, againCapS: AGAIN_CAP_MS / 1000 },
    machine: { ...mach, loadavgEnd: os.loadavg().map((x) => round(x)) },
    versions: vers,
    notes,
    sections: jsonRows(sections),
    targets: targets.map((t) => ({ ...t, value: round(t.value, 4), ratio: round(t.ratio, 4) })),
    raw: { ...R, extra },
  };
  const out = path.join(ROOT, '.bench', `bench-${stamp}.json`);
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(path.join(ROOT, '.bench', 'latest.json'), JSON.stringify(report, null, 2) + '\n');
  const header = [
    `Run ${finished.toISOString()}, ${elapsedS().toFixed(0)} s: \`npm run bench -- --rows ${ROWS}${RUNS !== 3 ? ` --runs ${RUNS}` : ''}\`.`,
    `Machine: ${mach.nproc} CPUs (${mach.cpu}), ${mach.memoryGB} GB, ${mach.kernel}; load average ${mach.loadavg.join(' ')} at the start.`,
    `Versions: Node ${vers.node}, PostgreSQL ${vers.postgresql}, pgloader ${vers.pgloader}, member-sync ${vers.memberSync}.`,
  ];
  writeFileSync(path.join(ROOT, '.bench', 'latest.md'), [...header, renderMarkdown(sections), '', ...notes.map((n) => `- ${n}`)].join('\n').trim() + '\n');

  const held = targets.filter((t) => t.holds).length;
  process.stdout.write(
    [
      `member-sync bench, ${finished.toISOString()} (${elapsedS().toFixed(0)} s)`,
      `machine: ${mach.nproc} CPUs (${mach.cpu}), ${mach.memoryGB} GB, ${mach.kernel}, load ${mach.loadavg.join(' ')} at start`,
      `versions: node ${vers.node}, PostgreSQL ${vers.postgresql}, pgloader ${vers.pgloader}, member-sync ${vers.memberSync}`,
      renderTable(sections),
      '',
      `targets: ${held} of ${targets.length} hold`,
      ...targets.map((t) => `  ${t.holds ? 'yes' : 'NO '}  ${t.item}: ${t.value === undefined ? t.note : fmtValue(t.value, t.unit)}${t.ratio !== undefined ? ` (${fmtRatio(t.ratio)})` : ''}, target ${t.target}${t.runs < RUNS ? `, ${t.runs} run${t.runs === 1 ? '' : 's'}` : ''}`),
      '',
      ...notes.map((n) => `note: ${n}`),
      `results: ${path.relative(process.cwd(), out)} (and .bench/latest.json, .bench/latest.md)`,
      '',
    ].join('\n'),
  );
}

main()
  .then(() => cleanup())
  .then(() => process.exit(0))
  .catch(async (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    await cleanup().catch(() => undefined);
    process.exit(1);
  });
