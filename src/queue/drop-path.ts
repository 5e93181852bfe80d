/**
 * Paths into the drop folder must stay in it. A job's `import:` (or `migrate:` file) that
 * points into `dropFolder.path` — as written, once normalized, or by its real path — is
 * refused when it gets there through `..`, or when its real path (symbolic links followed)
 * is not inside the folder's real path; a dropped file's job must name a regular file
 * directly in the folder. Otherwise a job file, or a payload in the queue, could have the
 * worker read and then move files elsewhere on the machine.
 */
import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';

function segments(p: string): string[] {
  return p.split(/[/\\]+/).filter((s) => s !== '' && s !== '.');
}

function isWithin(child: string, dir: string): boolean {
  const rel = path.relative(dir, child);
  return rel === '' || (segments(rel)[0] !== '..' && !path.isAbsolute(rel));
}

/**
 * The real path of `p` (which may not exist yet): its longest existing ancestor with links
 * followed, then the rest as written. `dangling` when a link on the way leads nowhere.
 */
function realPath(p: string): { real: string; dangling?: string } {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return { real: path.join(realpathSync(cur), ...rest) };
    } catch {
      if (lstatSync(cur, { throwIfNoEntry: false })?.isSymbolicLink()) return { real: cur, dangling: cur };
      const parent = path.dirname(cur);
      if (parent === cur) return { real: path.resolve(p) };
      rest.unshift(path.basename(cur));
      cur = parent;
    }
  }
}

/** Why `written` may not be used, when it points into the drop folder `dropDir`; undefined when it is fine. */
export function dropPathProblem(written: string, dropDir: string, cwd = process.cwd()): string | undefined {
  const dir = path.resolve(cwd, dropDir);
  const abs = path.resolve(cwd, written);
  const raw = segments(path.isAbsolute(written) ? written : `${cwd}/${written}`);
  const dirSegments = segments(dir);
  const asWritten = dirSegments.every((s, i) => raw[i] === s);
  const dirReal = realPath(dir).real;
  const { real, dangling } = realPath(abs);
  const reallyIn = isWithin(real, dirReal);
  if (!asWritten && !isWithin(abs, dir) && !reallyIn) return undefined;
  if (segments(written).includes('..')) return `'${written}' reaches the drop folder (${dropDir}) through '..'; write its path inside the folder without '..'`;
  if (dangling) return `'${written}' is in the drop folder (${dropDir}) through a symbolic link that leads nowhere (${dangling})`;
  if (!reallyIn) return `'${written}' leads out of the drop folder (${dropDir}) through a symbolic link: its real path is ${real}`;
  return undefined;
}

/** Why a dropped file's job may not import `file`: it must be a regular file directly in `dropDir`, by its real path. */
export function droppedFileProblem(file: string, dropDir: string): string | undefined {
  const dir = path.resolve(dropDir);
  if (!path.isAbsolute(file) || segments(file).includes('..')) return `'${file}' is not an absolute path without '..' in the drop folder ${dir}`;
  if (lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) return `'${file}' is a symbolic link; only regular files in the drop folder are imported`;
  if (realPath(path.dirname(file)).real !== realPath(dir).real) return `'${file}' is not directly in the drop folder ${dir}`;
  return undefined;
}
