// The worker path: `member-sync worker` running on a fresh database (queue on its
// PostgreSQL backend), the import file dropped into its drop folder (linked under a
// temporary name, then renamed, as the README says a writer should), timed from the
// rename to the file's arrival in processed/.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createDatabase, dropDatabase, query } from '../lib/pg.js';
import { peakRssKb, TimeLimit } from '../lib/proc.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startWorker(ctx, dir, dbUrl) {
  const child = spawn(process.execPath, [ctx.bin, 'worker'], {
    cwd: dir,
    env: ctx.env({ DATABASE_URL: dbUrl, LOG_LEVEL: 'info', LOG_FORMAT: 'json' }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  ctx.track(child);
  let log = '';
  child.stderr.on('data', (c) => {
    log += c;
    if (log.length > 2_000_000) log = log.slice(-1_000_000);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, log: () => log };
}

async function waitFor(what, timeoutMs, test, stepMs = 25) {
  const t0 = Date.now();
  for (;;) {
    const v = test();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new TimeLimit(`waiting for ${what}`, Date.now() - t0);
    await sleep(stepMs);
  }
}

export async function workerImport(ctx, file, rows, rep) {
  const db = await createDatabase('worker');
  const dir = path.join(ctx.tmpDir, `worker-${rep}`);
  const inbox = path.join(dir, 'inbox');
  mkdirSync(path.join(dir, 'jobs'), { recursive: true });
  mkdirSync(inbox, { recursive: true });
  const w = startWorker(ctx, dir, db.url);
  let peak = 0;
  const rss = setInterval(() => (peak = Math.max(peak, peakRssKb(w.child.pid))), 100);
  try {
    let exit;
    w.exited.then((e) => (exit = e));
    await waitFor('the worker to start', Math.min(120_000, ctx.left()), () => {
      if (exit) throw new Error(`member-sync worker exited (${exit.code ?? exit.signal}) before it started:\n${w.log().slice(-2000)}`);
      return /"msg":"worker started"/.test(w.log());
    });
    const name = `members-${rep}.csv`;
    const part = path.join(inbox, `${name}.part`);
    try {
      linkSync(file, part);
    } catch {
      copyFileSync(file, part);
    }
    const t0 = performance.now();
    const droppedAt = Date.now();
    renameSync(part, path.join(inbox, name));
    const failed = path.join(inbox, 'failed', name);
    await waitFor('the dropped file to reach processed/', ctx.left(), () => {
      if (exit) throw new Error(`member-sync worker exited (${exit.code ?? exit.signal}) during the import:\n${w.log().slice(-2000)}`);
      if (existsSync(failed)) {
        const why = existsSync(`${failed}.error.txt`) ? readFileSync(`${failed}.error.txt`, 'utf8') : readdirSync(path.dirname(failed)).join(', ');
        throw new Error(`the worker moved ${name} to failed/: ${why}`);
      }
      return existsSync(path.join(inbox, 'processed', name));
    });
    const ms = performance.now() - t0;
    peak = Math.max(peak, peakRssKb(w.child.pid));
    const r = await query(db.url, "SELECT rows FROM runs WHERE kind = 'import' ORDER BY id DESC LIMIT 1");
    const imported = r.rows[0]?.rows;
    if (imported !== rows) throw new Error(`the worker's import run read ${imported} rows, expected ${rows}`);
    // when the import began: the wait before it is the drop folder's stability check
    const started = w
      .log()
      .split('\n')
      .filter((l) => l.includes('"msg":"import started"'))
      .map((l) => {
        try {
          return JSON.parse(l).time;
        } catch {
          return undefined;
        }
      })
      .find((t) => typeof t === 'number');
    return { ms, peakRssKb: peak, pickupMs: started ? started - droppedAt : undefined };
  } finally {
    clearInterval(rss);
    if (w.child.exitCode === null && w.child.signalCode === null) {
      w.child.kill('SIGTERM');
      const done = await Promise.race([w.exited, sleep(Math.min(60_000, Math.max(5_000, ctx.left()))).then(() => undefined)]);
      if (!done) {
        w.child.kill('SIGKILL');
        await w.exited;
      }
    }
    await dropDatabase(db).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
