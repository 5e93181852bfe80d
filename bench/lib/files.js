// The input files, made once with `member-sync gen members` and kept in .bench/data/
// (the generator is deterministic: the same arguments give the same bytes). Their names
// carry a hash of the built generator, so a changed generator makes new files (and the
// old ones are removed).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { check, run } from './proc.js';

let version;
/** A short hash of the built generator and CSV writer; removes files made by another. */
function generatorVersion(ctx) {
  if (version) return version;
  const h = createHash('sha256');
  for (const f of ['dist/members/generate.js', 'dist/csv/write-csv.js', 'dist/cli/commands/gen.js']) h.update(readFileSync(path.join(ctx.root, f)));
  version = h.digest('hex').slice(0, 8);
  for (const name of readdirSync(ctx.dataDir)) {
    if (/^members-.*\.csv(\.part)?$/.test(name) && !name.includes(`-g${version}`)) rmSync(path.join(ctx.dataDir, name), { force: true });
  }
  return version;
}

/** `member-sync gen members n --seed s --dup-rate d --out …`, unless made before. */
export async function generated(ctx, n, { seed = 1, dupRate = 0.2 } = {}) {
  const file = path.join(ctx.dataDir, `members-${n}-seed${seed}-dup${dupRate}-g${generatorVersion(ctx)}.csv`);
  if (existsSync(file)) return file;
  ctx.say(`generating ${file}`);
  const res = await run(process.execPath, [ctx.bin, 'gen', 'members', String(n), '--seed', String(seed), '--dup-rate', String(dupRate), '--out', file], { env: ctx.env(), timeoutMs: ctx.left() });
  check(res, 'member-sync gen members');
  ctx.note('gen', { rows: n, seed, dupRate, ms: Math.round(res.ms), bytes: statSync(file).size, peakRssKb: res.peakRssKb });
  return file;
}

/** The same rows with LF line ends instead of CRLF: other bytes (another sha256), same rows. */
export async function sameRowsOtherFile(file) {
  const out = file.replace(/\.csv$/, '-lf.csv');
  if (existsSync(out)) return out;
  let carry = '';
  const toLf = new Transform({
    transform(chunk, _enc, done) {
      let s = carry + chunk.toString('latin1');
      carry = s.endsWith('\r') ? '\r' : '';
      if (carry) s = s.slice(0, -1);
      done(null, Buffer.from(s.replace(/\r\n/g, '\n'), 'latin1'));
    },
    flush(done) {
      done(null, Buffer.from(carry, 'latin1'));
    },
  });
  await pipeline(createReadStream(file), toLf, createWriteStream(`${out}.part`));
  renameSync(`${out}.part`, out);
  return out;
}
