/**
 * Issue 11's findings, one test each: what was found trying the product, each failing on
 * the code before source records. Real PostgreSQL; the lost COMMIT through a real TCP
 * proxy in front of it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { log } from '../../src/log.js';
import { importFile } from '../../src/pipeline/import-file.js';
import { ingest, type InputBatch } from '../../src/pipeline/ingest.js';
import { openDatabase } from '../../src/store/db.js';
import { startIkanowSimulator } from '../../src/connectors/ikanow/index.js';
import { pushConnection } from '../../src/pipeline/push.js';
import pg from 'pg';
import { createTestDb, type TestDb } from '../helpers/db.js';

const quiet = log.child({}, { level: 'fatal' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'ms-findings-'));
let n = 0;
const write = (content: string) => {
  const f = path.join(dir, `f${++n}.csv`);
  writeFileSync(f, content);
  return f;
};
const connections = {
  voc: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1/', options: { organizationAddress: '0x1' } },
  a: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1/', options: { organizationAddress: '0x1' } },
  b: { kind: 'vocdoni', baseUrl: 'http://127.0.0.1:1/', options: { organizationAddress: '0x1' } },
};
const config = (over: Record<string, unknown> = {}) => loadConfig({ env: {}, overrides: { connections, ...over } });

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});
const empty = async () => {
  const tables = ['members', 'source_records', 'source_record_history', 'ingest_batches', 'member_links', 'member_changes', 'conflicts', 'rejects', 'imported_files', 'checkpoints', 'push_state', 'runs'];
  const have = await db.knex('pg_tables').where({ schemaname: 'public' }).whereIn('tablename', tables).pluck('tablename');
  await db.knex.raw(`truncate ${have.join(', ')} restart identity cascade`);
};

describe('issue 11 findings', () => {
  it('1: a row whose only key is an external id no connection owns is rejected, not a new member on every import', async () => {
    await empty();
    const rows = ['external_id,email,first_name', 'X1,ann@x.org,Ann', 'X2,,Bob'];
    const a = await importFile(write(rows.join('\n') + '\n'), { db: db.knex, config: config(), log: quiet });
    const b = await importFile(write(rows.join('\r\n') + '\r\n'), { db: db.knex, config: config(), log: quiet });
    expect(a).toMatchObject({ rows: 2, created: 1, rejected: 1 });
    expect(b).toMatchObject({ rows: 2, created: 0, unchanged: 1, rejected: 1 });
    expect(await db.knex('members').count({ n: '*' }).first()).toEqual({ n: 1 });
    const rejects = await db.knex('rejects').pluck('reason');
    expect(rejects).toHaveLength(2);
    for (const r of rejects) expect(r).toMatch(/^no_identity_key/);
  });

  it('2: a record matched by its link that carries another member_id is a conflict; the member keeps its key', async () => {
    await empty();
    const first = await importFile(write('external_id,member_id,email\n17,M1,ana@x.org\n'), { db: db.knex, config: config(), log: quiet, connection: 'voc' });
    expect(first.created).toBe(1);
    // the Vocdoni member's memberNumber changed: a re-key, which the guard must refuse
    const second = await importFile(write('external_id,member_id,email\n17,M2,ana@x.org\n'), { db: db.knex, config: config(), log: quiet, connection: 'voc' });
    expect(second).toMatchObject({ rows: 1, conflicts: 1, updated: 0 });
    expect(await db.knex('conflicts').pluck('reason')).toEqual(['member_id_mismatch']);
    expect(await db.knex('members').pluck('member_id')).toEqual(['M1']);
    // an e-mail may change through the link
    const third = await importFile(write('external_id,member_id,email\n17,M1,ana.new@x.org\n'), { db: db.knex, config: config(), log: quiet, connection: 'voc' });
    expect(third.updated).toBe(1);
    expect(await db.knex('members').pluck('email')).toEqual(['ana.new@x.org']);
  });

  it('3: two sources of equal trust that disagree do not flip the member on every pull', async () => {
    await empty();
    const fa = write('external_id,email,groups\na1,e@x.org,x\n');
    const fb = write('external_id,email,groups\nb1,e@x.org,y\n');
    const imp = (f: string, connection: string) => importFile(f, { db: db.knex, config: config(), log: quiet, connection, force: true });
    await imp(fa, 'a');
    await imp(fb, 'b');
    expect(await db.knex('members').pluck('groups')).toEqual([['y']]);
    const changes = Number((await db.knex('member_changes').count({ n: '*' }).first())?.n);
    // each source sends the same again, in either order: nothing changes, nothing to push
    for (const [f, c] of [[fa, 'a'], [fb, 'b'], [fb, 'b'], [fa, 'a']] as const) {
      expect(await imp(f, c)).toMatchObject({ rows: 1, updated: 0, unchanged: 1 });
    }
    expect(await db.knex('members').pluck('groups')).toEqual([['y']]);
    expect(Number((await db.knex('member_changes').count({ n: '*' }).first())?.n)).toBe(changes);
  });

  it('4: a batch whose COMMIT answer is lost is applied and counted once, its conflicts and rejects once', async () => {
    const target = new URL(inject('databaseUrl'));
    const proxy = await startPgProxy(target.hostname, Number(target.port || 5432));
    const url = new URL(db.url);
    url.host = `127.0.0.1:${proxy.port}`;
    const viaProxy = await openDatabase({ log: quiet, url: url.toString() });
    try {
      await empty();
      const rows = ['cons_id,member_id,email,first_name', '1,M1,a@x.org,A', '2,M1,b@x.org,B', ',,bad,C', '3,,c@x.org,D', '4,,d@x.org,E'];
      proxy.dropNextCommitAnswer();
      const s = await importFile(write(rows.join('\n') + '\n'), { db: viaProxy.knex, config: config({ import: { batchSize: 3, fileTrust: 0, seenRows: true } }), log: quiet });
      expect(proxy.dropped).toBe(1);
      expect(s).toMatchObject({ rows: 5, created: 3, conflicts: 1, rejected: 1 });
      const run = await db.knex('runs').where({ id: s.run_id }).first();
      expect(run).toMatchObject({ rows: 5, created: 3, conflicts: 1, rejected: 1 });
      expect(await db.knex('rejects').count({ n: '*' }).first()).toEqual({ n: 1 });
      expect(await db.knex('conflicts').count({ n: '*' }).first()).toEqual({ n: 1 });
      expect(await db.knex('members').count({ n: '*' }).first()).toEqual({ n: 3 });
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });

  it("5: a push writes the links it learns under the members lock, like every writer of members", async () => {
    await empty();
    const sim = await startIkanowSimulator();
    const cfg = config({ connections: { ...connections, ik: { kind: 'ikanow', baseUrl: sim.url, credentials: { apiKey: 'ikanow-sim-api-key' }, rateLimit: { perSecond: 0, concurrency: 2 } } } });
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await importFile(write('member_id,email,first_name,last_name\nL-1,l1@x.org,Lee,One\n'), { db: db.knex, config: cfg, log: quiet });
      await holder.query('select pg_advisory_lock(727002)');
      const people = sim.state.people.size;
      let done = false;
      const push = pushConnection('ik', { db: db.knex, config: cfg, log: quiet }).then((r) => ((done = true), r));
      await new Promise((r) => setTimeout(r, 1500));
      // the person was created at IKANOW, but its link waits for the lock
      expect(sim.state.people.size).toBe(people + 1);
      expect(done).toBe(false);
      expect(await db.knex('member_links').where({ connection: 'ik' }).count({ n: '*' }).first()).toEqual({ n: 0 });
      await holder.query('select pg_advisory_unlock(727002)');
      expect(await push).toMatchObject({ created: 1 });
      expect(await db.knex('member_links').where({ connection: 'ik' }).count({ n: '*' }).first()).toEqual({ n: 1 });
    } finally {
      await holder.end();
      await sim.close();
    }
  });

  it('6: a dry run holds no lock between batches: a real import of the same people goes through meanwhile', async () => {
    await empty();
    await importFile(write('email,first_name\nz@x.org,Zed\n'), { db: db.knex, config: config(), log: quiet });
    let realDone = false;
    let doneBetween = false;
    let real: Promise<unknown> | undefined;
    const batches = async function* (): AsyncGenerator<InputBatch> {
      yield { items: [{ ref: { line: 2 }, values: { email: 'z@x.org', first_name: 'Zedd' }, raw: {} }] };
      // while the dry run is between batches, a real import changes the same member
      real = importFile(write('email,first_name\nz@x.org,Zoe\n'), { db: db.knex, config: config(), log: quiet }).then(() => (realDone = true));
      await Promise.race([real, new Promise((r) => setTimeout(r, 5000))]);
      doneBetween = realDone;
      yield { items: [{ ref: { line: 3 }, values: { email: 'y@x.org' }, raw: {} }] };
    };
    const counts = await ingest(batches(), { db: db.knex, config: config(), log: quiet, runId: 0, source: 'file:dry', dryRun: true });
    await real;
    expect(doneBetween).toBe(true);
    expect(counts).toMatchObject({ rows: 2, updated: 1, created: 1 });
    // and it wrote nothing
    expect(await db.knex('members').orderBy('email').pluck('first_name')).toEqual(['Zoe']);
    expect(await db.knex('member_changes').where({ source: 'file:dry' }).count({ n: '*' }).first()).toEqual({ n: 0 });
  });

  it('7: a process whose allowDuplicateEmails differs from the database stops, and does not change the schema', async () => {
    const unique = async () => (await db.knex.raw(`select 1 from pg_indexes where indexname = 'members_email_key'`)).rows.length === 1;
    expect(await unique()).toBe(true);
    await expect(openDatabase({ log: quiet, url: db.url, allowDuplicateEmails: true })).rejects.toThrow(/allowDuplicateEmails is true in this config, but the database was set up with false.*settings set/);
    expect(await unique()).toBe(true);
  });
});

/**
 * A TCP proxy in front of PostgreSQL that can lose the answer to one COMMIT: the server
 * commits, the client sees its connection drop (a session lost during COMMIT).
 */
async function startPgProxy(host: string, port: number) {
  let armed = false;
  const state = { dropped: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    sockets.add(client).add(upstream);
    let dropNext = false;
    client.on('data', (buf) => {
      // a simple-protocol query message ('Q') holding COMMIT
      if (armed && buf[0] === 0x51 && /^COMMIT/i.test(buf.subarray(5).toString('utf8').trim())) {
        armed = false;
        dropNext = true;
      }
      upstream.write(buf);
    });
    upstream.on('data', (buf) => {
      if (dropNext) {
        state.dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(buf);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get dropped() {
      return state.dropped;
    },
    dropNextCommitAnswer() {
      armed = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

