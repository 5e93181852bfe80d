/**
 * The demo's job, as member-sync exists to do it: pull the four sources of the sandbox,
 * import the example file, push to the sandbox's Vocdoni, WeVote and community, then push
 * again to show that nothing is resent. A line per run, one closing line a person reads.
 */
import type { Knex } from 'knex';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { importFile } from '../../pipeline/import-file.js';
import { pullConnection, type PullSummary } from '../../pipeline/pull.js';
import { pushConnection, type PushSummary } from '../../pipeline/push.js';
import { summaryLine } from './import.js';
import { pullLine } from './pull.js';
import { pushLine, skipLines } from './push.js';

export const DEMO_SOURCES = ['convio-sandbox', 'ikanow-sandbox', 'community-sandbox', 'vocdoni-sandbox'] as const;
export const DEMO_DESTINATIONS = ['vocdoni-sandbox', 'wevote-sandbox', 'community-sandbox'] as const;

export interface DemoResult {
  pulls: PullSummary[];
  imported: { rows: number; created: number; updated: number; unchanged: number; conflicts: number; rejected: number };
  pushes: PushSummary[];
  again: PushSummary[];
  members: number;
  /** records pulled and rows imported */
  read: number;
  /** of those, the ones that joined a member already there (updated or unchanged it) */
  merged: number;
  conflictsOpen: number;
}

const n = (v: number): string => v.toLocaleString('en-US');

/** The closing line: what the store holds and what went out. */
export function closingLine(r: DemoResult): string {
  const sent = r.pushes.reduce((a, s) => ({ created: a.created + s.created, updated: a.updated + s.updated, failed: a.failed + s.failed }), { created: 0, updated: 0, failed: 0 });
  const resent = r.again.reduce((a, s) => a + s.created + s.updated + s.failed, 0);
  const failed = sent.failed > 0 ? `, ${n(sent.failed)} failed` : '';
  const again = resent === 0 ? 'pushed again: nothing resent' : `pushed again: ${n(resent)} resent`;
  return (
    `done: ${n(r.members)} members; ${n(r.read)} records read, ${n(r.merged)} of them merged into a member already there; ` +
    `${n(r.conflictsOpen)} conflicts waiting for review; ` +
    `pushed ${n(sent.created + sent.updated)} (${n(sent.created)} created, ${n(sent.updated)} updated${failed}) to ${DEMO_DESTINATIONS.map((d) => d.replace(/-sandbox$/, '')).join(', ')}; ${again}`
  );
}

export async function runDemo(opts: { db: Knex; config: Readonly<Config>; log: Logger; file: string; fileLabel: string; print(line: string): void }): Promise<DemoResult> {
  const { db, config, log, print } = opts;
  const pulls: PullSummary[] = [];
  for (const name of DEMO_SOURCES) {
    const s = await pullConnection(name, { db, config, log, full: true });
    pulls.push(s);
    print(pullLine(s));
  }
  const imported = await importFile(opts.file, { db, config, log, force: true });
  print(summaryLine({ ...imported, file: opts.fileLabel }));
  const pushRound = async (label: string): Promise<PushSummary[]> => {
    const out: PushSummary[] = [];
    for (const name of DEMO_DESTINATIONS) {
      const s = await pushConnection(name, { db, config, log });
      out.push(s);
      print(`${label}${pushLine(s)}`);
      if (label === '') for (const line of skipLines(s)) print(line);
    }
    return out;
  };
  const pushes = await pushRound('');
  const again = await pushRound('again: ');
  const count = async (q: Knex.QueryBuilder): Promise<number> => Number(((await q.count<{ n: string }[]>({ n: '*' }))[0] ?? { n: 0 }).n);
  const members = await count(db('members'));
  const conflictsOpen = await count(db('conflicts').whereNull('resolved_at'));
  const read = [...pulls, imported].reduce((a, s) => a + s.rows, 0);
  const merged = [...pulls, imported].reduce((a, s) => a + s.updated + s.unchanged, 0);
  const result: DemoResult = { pulls, imported, pushes, again, members, read, merged, conflictsOpen };
  print(closingLine(result));
  return result;
}
