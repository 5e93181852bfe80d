/**
 * A push right after a pull from the same system sends nothing for the members whose
 * payload equals what was read: pull each sandbox system into a fresh database, push back
 * to it, count the requests at its simulator. A member changed in between is the only one
 * sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { log } from '../../src/log.js';
import { pullConnection } from '../../src/pipeline/pull.js';
import { pushConnection } from '../../src/pipeline/push.js';
import { startSandbox, type Sandbox } from '../../src/server/sandbox.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { importCsv } from './push-setup.js';

let sb: Sandbox;
let config: Readonly<Config>;
const dbs: TestDb[] = [];

beforeAll(async () => {
  sb = await startSandbox({ people: 60, seed: 7 });
  config = loadConfig({ env: sb.env, overrides: { import: { batchSize: 25 }, connections: sb.connections } });
});
afterAll(async () => {
  await sb?.close();
  await Promise.all(dbs.map((d) => d.drop()));
});

const systems = [
  ['convio', 'convio-sandbox'],
  ['ikanow', 'ikanow-sandbox'],
  ['community', 'community-sandbox'],
  ['vocdoni', 'vocdoni-sandbox'],
] as const;

describe('push right after a pull from the same system', () => {
  it.each(systems)('%s: 0 requests for the members just read', async (kind, name) => {
    const db = await createTestDb();
    dbs.push(db);
    const pulled = await pullConnection(name, { db: db.knex, config, log, full: true });
    expect(pulled.rows).toBe(sb.counts[kind]);
    const sim = sb.simulators[kind];
    const dry = await pushConnection(name, { db: db.knex, config, log, dryRun: true });
    expect(dry).toMatchObject({ selected: 0, unchanged: pulled.created });
    const before = sim.requests.total;
    const s = await pushConnection(name, { db: db.knex, config, log });
    expect(s).toMatchObject({ selected: 0, requests: 0, unchanged: pulled.created });
    expect(sim.requests.total - before).toBe(0);
  });

  it('vocdoni: a member changed after the pull is the only one sent (one PUT); a second pull and push send nothing', async () => {
    const db = await createTestDb();
    dbs.push(db);
    const name = 'vocdoni-sandbox';
    await pullConnection(name, { db: db.knex, config, log, full: true });
    const one = await db.knex('members').whereNotNull('member_id').orderBy('member_id').first();
    // a phone too: Vocdoni answers it masked, so a pull cannot show it back
    await importCsv(db, config, `member_id,last_name,phone\n${one.member_id},Changed-After-Pull,+34600999888\n`);
    const sim = sb.simulators.vocdoni;
    const before = sim.requests.total;
    const s = await pushConnection(name, { db: db.knex, config, log });
    expect(s).toMatchObject({ selected: 1, updated: 1, failed: 0, requests: 1 });
    expect(sim.requests.total - before).toBe(1);
    // the remote now shows what we pushed (the phone masked); pulling it again changes nothing to send
    await pullConnection(name, { db: db.knex, config, log, full: true });
    const again = sim.requests.total;
    expect(await pushConnection(name, { db: db.knex, config, log })).toMatchObject({ selected: 0, requests: 0 });
    expect(sim.requests.total - again).toBe(0);
  });
});
