// Push of members to the convio simulator: the bare-HTTP floor, member-sync unlimited,
// a second push at once, member-sync limited to a rate behind the gate.
import { check, lastJson, run } from '../lib/proc.js';

const PUSH = new URL('../child/push.js', import.meta.url).pathname;
const RAW = new URL('../child/raw-push.js', import.meta.url).pathname;

export async function rawPush(ctx, baseUrl, people, seed, concurrency) {
  const res = await run(process.execPath, [RAW, baseUrl, String(people), String(seed), String(concurrency)], { env: ctx.env(), cwd: ctx.tmpDir, timeoutMs: ctx.left() });
  check(res, 'raw-push');
  const out = lastJson(res.stdout);
  if (out.failed > 0) throw new Error(`raw-push: ${out.failed} of ${out.requests} updates failed`);
  return out;
}

/**
 * pushConnection in a child process: {summary, ms, cpuMs, peakRssKb}. With capMs the
 * push is stopped after that long and {capped: true, ms: capMs} comes back instead.
 */
export async function memberSyncPush(ctx, dbUrl, connection, { limit, capMs } = {}) {
  const args = [PUSH, connection];
  if (limit !== undefined) args.push('--limit', String(limit));
  const left = ctx.left();
  const timeoutMs = capMs !== undefined ? Math.min(left, capMs) : left;
  const res = await run(process.execPath, args, { env: ctx.env({ DATABASE_URL: dbUrl }), cwd: ctx.tmpDir, timeoutMs });
  if (res.killed && capMs !== undefined && capMs < left) return { capped: true, ms: capMs };
  check(res, `push ${connection}`);
  const out = lastJson(res.stdout);
  const s = out.summary;
  if (s.failed > 0 || s.stopped) throw new Error(`push ${connection}: ${s.failed} failed${s.stopped ? `, stopped: ${s.stopped}` : ''}`);
  return { ...out, peakRssKb: res.peakRssKb };
}
