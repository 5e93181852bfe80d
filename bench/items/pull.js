// Pull of the vocdoni simulator's people (pages of 100) into a fresh database.
import { createDatabase, dropDatabase } from '../lib/pg.js';
import { check, lastJson, run } from '../lib/proc.js';

const FETCH = new URL('../child/fetch-pages.js', import.meta.url).pathname;

/** Every page through member-sync's connector, no store. Returns {ms (process wall), records, inner}. */
export async function fetchPages(ctx, connection, people) {
  const res = await run(process.execPath, [FETCH, connection], { env: ctx.env(), cwd: ctx.tmpDir, timeoutMs: ctx.left() });
  check(res, 'fetch-pages');
  const out = lastJson(res.stdout);
  if (out.records !== people) throw new Error(`fetch-pages read ${out.records} records, expected ${people}`);
  return { ms: res.ms, records: out.records, pages: out.pages, innerMs: out.ms, cpuMs: out.cpuMs };
}

/**
 * `member-sync pull <connection> --full --json` into a fresh database, then the same pull
 * again over the unchanged source (`again`: every record comes back as it was).
 */
export async function pullCli(ctx, connection, people) {
  const db = await createDatabase('pull');
  try {
    const pull = async () => {
      const res = await run(process.execPath, [ctx.bin, 'pull', connection, '--full', '--json'], { env: ctx.env({ DATABASE_URL: db.url }), cwd: ctx.tmpDir, timeoutMs: ctx.left() });
      check(res, `member-sync pull ${connection}`);
      const summary = lastJson(res.stdout);
      if (summary.rows !== people) throw new Error(`member-sync pull read ${summary.rows} records, expected ${people}`);
      return { res, summary };
    };
    const { res, summary } = await pull();
    const again = await pull();
    if (again.summary.unchanged !== summary.rows - summary.rejected) throw new Error(`the second pull changed records: ${JSON.stringify(again.summary)}`);
    return { ms: res.ms, peakRssKb: res.peakRssKb, cpuMs: res.cpuMs, summary, againMs: again.res.ms };
  } finally {
    await dropDatabase(db);
  }
}
