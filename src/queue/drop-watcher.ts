/**
 * Watches the drop folder. A file is handed on once its size and modification time have
 * not changed for `stableMs` — a file still being written keeps changing and is left
 * alone. Files already there at start are seen at the first scan. Names writers use
 * while writing (`.x`, `x.part`, `x.tmp`, …) are ignored, so a file written under such
 * a name and renamed when complete is never seen half-written.
 *
 * fs.watch only makes a scan come sooner; the periodic scan is what decides (fs.watch
 * misses events on network filesystems and in some containers).
 *
 * A file handed on leaves the folder when its job is done. One still here `recheckMs`
 * later is offered again (onStable must not queue it twice): its job may have been lost
 * with the queue's data (Redis restarted empty), and nobody else would ever take it.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { ensureDropFolder, isTemporaryName } from './drop-files.js';

export interface DropWatcherOptions {
  dir: string;
  stableMs: number;
  log: Logger;
  /** a stable file; resolve true when it was handed on, false to look at it again later */
  onStable(file: string, size: number): Promise<boolean>;
  /** offer a handed-on file still in the folder again after this long; off when unset */
  recheckMs?: number;
}

interface Seen {
  size: number;
  mtimeMs: number;
  /** when this size and mtime were first seen */
  since: number;
  handed: boolean;
  /** when it was last handed on */
  handedAt: number;
}

export interface DropWatcher {
  /** scans now (tests, and the first scan at start) */
  scan(): Promise<void>;
  stop(): Promise<void>;
}

export async function startDropWatcher(opts: DropWatcherOptions): Promise<DropWatcher> {
  const dir = path.resolve(opts.dir);
  await ensureDropFolder(dir);
  const seen = new Map<string, Seen>();
  const pollMs = Math.max(100, Math.min(1000, Math.floor(opts.stableMs / 4)));
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;

  async function scanOnce(): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err) => {
      opts.log.error({ err, dir }, 'cannot read the drop folder');
      return [];
    });
    const present = new Set<string>();
    const now = Date.now();
    for (const e of entries) {
      if (stopped) return;
      if (!e.isFile() || isTemporaryName(e.name)) continue;
      present.add(e.name);
      const file = path.join(dir, e.name);
      const st = await stat(file).catch(() => undefined);
      if (!st) continue;
      const prev = seen.get(e.name);
      if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
        seen.set(e.name, { size: st.size, mtimeMs: st.mtimeMs, since: now, handed: false, handedAt: 0 });
        continue;
      }
      const recheck = prev.handed && opts.recheckMs !== undefined && now - prev.handedAt >= opts.recheckMs;
      if ((prev.handed && !recheck) || now - prev.since < opts.stableMs) continue;
      prev.handed = true;
      prev.handedAt = now;
      try {
        prev.handed = await opts.onStable(file, st.size);
      } catch (err) {
        prev.handed = false;
        opts.log.error({ err, file }, 'could not queue a dropped file; trying again at the next scan');
      }
      // looked at again only after another stable period
      if (!prev.handed) prev.since = Date.now();
    }
    for (const name of seen.keys()) if (!present.has(name)) seen.delete(name);
  }

  // one scan at a time; a request during a scan runs one more after it
  function scan(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await scanOnce();
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => void scan());
    watcher.on('error', () => undefined);
  } catch {
    // polling alone still works
  }
  const timer = setInterval(() => void scan(), pollMs);
  opts.log.info({ dir, stableMs: opts.stableMs }, 'watching the drop folder');
  void scan();

  return {
    scan,
    async stop() {
      stopped = true;
      clearInterval(timer);
      watcher?.close();
      await running;
    },
  };
}
