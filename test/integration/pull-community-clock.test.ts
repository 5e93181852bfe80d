/**
 * The community platform stamps changes with its own clock, and get-modified-users compares
 * those stamps with our search date: with the server's clock behind ours, a change made
 * just after a pull is stamped before that pull's cursor. The pull asks from the cursor less
 * `lookbackSeconds` (default 300), so the change arrives; users read again are unchanged.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { communityClient, modifyUser } from '../../src/connectors/community/client.js';
import { startCommunitySimulator } from '../../src/connectors/community/simulator.js';
import type { SimulatorHandle } from '../../src/connectors/types.js';
import { log } from '../../src/log.js';
import { pullConnection } from '../../src/pipeline/pull.js';
import type { MemberValues } from '../../src/types.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { configWith } from './push-setup.js';

const people: MemberValues[] = ['ana', 'juan', 'eva', 'leo', 'mar'].map((n) => ({ first_name: n, email: `${n}@example.org`, city: 'Madrid' }));
const BEHIND_MS = 120_000;
const quiet = log.child({}, { level: 'error' });

const sims: SimulatorHandle[] = [];
const dbs: TestDb[] = [];
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
  await Promise.all(dbs.map((d) => d.drop()));
});

async function setup(options: Record<string, unknown>) {
  const sim = await startCommunitySimulator({ people, communityShortName: 'members', clockOffsetMs: -BEHIND_MS });
  sims.push(sim);
  const db = await createTestDb();
  dbs.push(db);
  const config = configWith({
    comm: {
      kind: 'community',
      baseUrl: sim.url,
      credentials: { consumerKey: 'sim-consumer-key', consumerSecret: 'sim-consumer-secret', token: 'sim-token', tokenSecret: 'sim-token-secret' },
      rateLimit: { perSecond: 0, concurrency: 4 },
      options: { communityShortName: 'members', communityId: sim.state.community.id, ...options },
    },
  });
  const pull = () => pullConnection('comm', { db: db.knex, config, log: quiet });
  /** a change made on the platform, through its API: the server stamps it with its clock */
  const change = async (email: string, city: string) => {
    const user = [...sim.state.users.values()].find((u) => u.user.email === email)!.user;
    const client = communityClient({ name: 'comm', config: config.connections.comm, log: pino({ level: 'silent' }) });
    await modifyUser(client, { user_id: user.user_id, community_id: sim.state.community.id, city });
  };
  const cityOf = async (email: string) => (await db.knex('members').where({ email }).first('city'))?.city as string | undefined;
  return { sim, db, pull, change, cityOf };
}

describe('community pull with the server clock behind ours', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    s = await setup({});
  });

  it('gets a change made right after the last pull (default lookback of 300 s)', async () => {
    expect(await s.pull()).toMatchObject({ created: 5, updated: 0, rejected: 0 });
    await s.change('ana@example.org', 'Bilbao');
    const again = await s.pull();
    expect(await s.cityOf('ana@example.org')).toBe('Bilbao');
    // the others were stamped within the lookback too: read again, they change nothing
    expect(again).toMatchObject({ rows: 5, created: 0, updated: 1, unchanged: 4, conflicts: 0, rejected: 0 });
    const changes = await s.db.knex('member_changes').count({ n: '*' }).first();
    const third = await s.pull();
    expect(third).toMatchObject({ created: 0, updated: 0, unchanged: 5 });
    // re-reading wrote no change log entry
    expect(await s.db.knex('member_changes').count({ n: '*' }).first()).toEqual(changes);
  });

  it('with lookbackSeconds: 0 the same change is lost, which is why the lookback exists', async () => {
    const t = await setup({ lookbackSeconds: 0 });
    expect(await t.pull()).toMatchObject({ created: 5 });
    await t.change('ana@example.org', 'Bilbao');
    expect(await t.pull()).toMatchObject({ rows: 0, updated: 0 });
    expect(await t.cityOf('ana@example.org')).toBe('Madrid');
  });
});
