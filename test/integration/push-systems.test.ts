/**
 * The per-system push rules against the Vocdoni, WeVote and community simulators on
 * loopback, with real PostgreSQL: what each system gets, how it is found, and that a
 * second push sends nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCommunitySimulator } from '../../src/connectors/community/simulator.js';
import { startVocdoniSimulator } from '../../src/connectors/vocdoni/simulator.js';
import { newVoterDeviceId, startWeVoteSimulator } from '../../src/connectors/wevote/simulator.js';
import { log } from '../../src/log.js';
import { pullConnection } from '../../src/pipeline/pull.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { configWith, importCsv, pushWith } from './push-setup.js';

let db: TestDb;
let vocdoni: Awaited<ReturnType<typeof startVocdoniSimulator>>;
let wevote: Awaited<ReturnType<typeof startWeVoteSimulator>>;
let community: Awaited<ReturnType<typeof startCommunitySimulator>>;
let config: ReturnType<typeof configWith>;
let push: ReturnType<typeof pushWith>;
const DEVICE = newVoterDeviceId();

beforeAll(async () => {
  db = await createTestDb();
  vocdoni = await startVocdoniSimulator({ autoGroup: false, jobDurationMs: 20, people: [{ member_id: 'V-1', first_name: 'Vera', last_name: 'Old', email: 'v1@example.org' }, { member_id: 'V-7', first_name: 'Seven' }] });
  wevote = await startWeVoteSimulator({ people: [{ email: 'w1@example.org', first_name: 'Old', interface_status_flags: 2 }] });
  community = await startCommunitySimulator({ people: [{ email: 'c1@example.org', first_name: 'Cora', last_name: 'Lind', city: 'Bilbao' }] });
  config = configWith({
    'vocdoni-t': { kind: 'vocdoni', baseUrl: vocdoni.url, credentials: { token: 'sim-vocdoni-token' }, rateLimit: { perSecond: 0, concurrency: 3 }, options: { organizationAddress: vocdoni.state.orgAddress, jobPollMs: 10 } },
    'wevote-t': {
      kind: 'wevote',
      baseUrl: wevote.url,
      credentials: { apiKey: 'wevote-api-key', managementApiKey: 'sim-management-key', voterDeviceId: DEVICE },
      rateLimit: { perSecond: 0, concurrency: 2 },
      options: { createAccount: true },
    },
    'community-t': {
      kind: 'community',
      baseUrl: community.url,
      credentials: { consumerKey: 'sim-consumer-key', consumerSecret: 'sim-consumer-secret', token: 'sim-token', tokenSecret: 'sim-token-secret' },
      rateLimit: { perSecond: 0, concurrency: 2 },
      options: { communityShortName: 'developers', communityId: community.state.community.id },
    },
  });
  push = pushWith(db, config);
  await importCsv(
    db,
    config,
    `member_id,email,first_name,last_name,phone,national_id,birth_date,weight,interface_status_flags,facebook_photo_url
V-1,v1@example.org,Vera,New,+34600111222,12345678Z,1980-02-01,3,5,https://img.example.org/v1.png
V-2,w1@example.org,Walt,Way,,,,,,
V-3,v3@example.org,Vic,Tor,,,,,,
,nomember@example.org,No,Number,,,,,,
`,
  );
});
afterAll(async () => {
  await Promise.all([vocdoni?.close(), wevote?.close(), community?.close()]);
  await db?.drop();
});

const voc = (n: string) => [...vocdoni.state.members.values()].filter((m) => m.memberNumber === n);
const stateOf = async (connection: string, email: string) =>
  db.knex('push_state as p').join('members as m', 'm.id', 'p.member_id').where({ 'p.connection': connection, 'm.email': email }).select('p.*').first();

describe('push to vocdoni', () => {
  it('sends memberNumber = member_id and the person fields, skips members without one, and keeps the all-members group', async () => {
    const s = await push('vocdoni-t');
    expect(s).toMatchObject({ selected: 4, created: 2, updated: 1, skipped: 1, failed: 0 });
    expect(voc('V-1')).toHaveLength(1);
    expect(voc('V-1')[0]).toMatchObject({ name: 'Vera', surname: 'New', email: 'v1@example.org', nationalId: '12345678Z', birthDate: '1980-02-01', weight: 3 });
    expect(voc('V-2')).toHaveLength(1);
    expect(voc('V-3')).toHaveLength(1);
    expect(await stateOf('vocdoni-t', 'nomember@example.org')).toMatchObject({ status: 'skipped', last_error: 'no member_id' });
    const group = [...vocdoni.state.groups.values()].find((g) => g.title === 'All members');
    expect(group).toBeTruthy();
    for (const n of ['V-1', 'V-2', 'V-3']) expect(group!.memberIds.has(voc(n)[0].id)).toBe(true);
    const before = vocdoni.requests.total;
    expect(await push('vocdoni-t')).toMatchObject({ selected: 0, requests: 0 });
    expect(vocdoni.requests.total).toBe(before);
  });

  it('an add whose answer was lost is found by memberNumber (after its job) in the same push, not added twice', async () => {
    await importCsv(db, config, 'member_id,email,first_name\nV-4,v4@example.org,Vik\n');
    vocdoni.state.dropNextAddResponse = true;
    const posts = () => vocdoni.requests.byRoute['POST /organizations/{address}/members'] ?? 0;
    const before = posts();
    const lost = await push('vocdoni-t');
    expect(lost).toMatchObject({ selected: 1, created: 1, failed: 0 });
    // one POST: the lost one was found, not sent again
    expect(posts() - before).toBe(1);
    expect(voc('V-4')).toHaveLength(1);
    expect(await stateOf('vocdoni-t', 'v4@example.org')).toMatchObject({ status: 'ok', remote_id: voc('V-4')[0].id });
    expect(await push('vocdoni-t')).toMatchObject({ selected: 0, requests: 0 });
  });

  it('a 400 (update would create duplicates) is recorded as permanent and not sent again', async () => {
    // someone at Vocdoni gave V-3's memberNumber to another member (V-7): our next update
    // of V-3, by its id, would make two members V-3
    voc('V-7')[0].memberNumber = 'V-3';
    await importCsv(db, config, 'member_id,first_name\nV-3,Victor\n');
    const s = await push('vocdoni-t');
    expect(s).toMatchObject({ selected: 1, failed: 1, requests: 1 });
    const st = await stateOf('vocdoni-t', 'v3@example.org');
    expect(st).toMatchObject({ status: 'failed', error_code: '40037' });
    expect(st.last_error).toMatch(/HTTP 400.*update would create duplicates/);
    expect(await push('vocdoni-t')).toMatchObject({ selected: 0, held_failed: 1, requests: 0 });
  });
});

describe('push to wevote', () => {
  it('finds voters by management key + e-mail, creates as configured, sends names, photos and flag bits', async () => {
    const s = await push('wevote-t');
    expect(s.failed).toBe(0);
    const voters = [...wevote.state.voters.values()];
    const v1 = voters.find((v) => v.email === 'v1@example.org')!;
    expect(v1).toMatchObject({ first_name: 'Vera', last_name: 'New', interface_status_flags: 5, facebook_profile_image_url_https: 'https://img.example.org/v1.png' });
    // the seeded voter is updated in place; a member without flags sends no bit operation
    const w1 = voters.filter((v) => v.email === 'w1@example.org');
    expect(w1).toHaveLength(1);
    expect(w1[0]).toMatchObject({ first_name: 'Walt', last_name: 'Way', interface_status_flags: 2 });
    expect(voters.filter((v) => v.email === 'nomember@example.org')).toHaveLength(1);
    const members = Number((await db.knex('members').count({ n: '*' }).first())!.n);
    expect(s).toMatchObject({ selected: members, created: members - 1, updated: 1 });
    const link = await db.knex('member_links').where({ connection: 'wevote-t', external_id: v1.we_vote_id }).first();
    expect(link).toMatchObject({ rule: 'push' });
    expect(await push('wevote-t')).toMatchObject({ selected: 0, requests: 0 });
  });
});

describe('push to community', () => {
  it('updates linked users with modify-user and skips people it cannot add', async () => {
    const pulled = await pullConnection('community-t', { db: db.knex, config, log });
    expect(pulled).toMatchObject({ rows: 1, created: 1 });
    await importCsv(db, config, 'email,city\nc1@example.org,Getxo\n');
    const s = await push('community-t');
    const members = Number((await db.knex('members').count({ n: '*' }).first())!.n);
    expect(s).toMatchObject({ selected: members, updated: 1, failed: 0, skipped: members - 1 });
    const user = [...community.state.users.values()].find((u) => u.user.email === 'c1@example.org');
    expect(user?.user.city).toBe('Getxo');
    expect((await stateOf('community-t', 'v1@example.org')).last_error).toMatch(/no community user_id/);
    expect(await push('community-t')).toMatchObject({ selected: 0, requests: 0 });
  });
});
