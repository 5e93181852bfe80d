import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { communityConnector } from '../../src/connectors/community/index.js';
import { startCommunitySimulator, type CommunitySimulatorOptions } from '../../src/connectors/community/simulator.js';
import type { ConnectorContext, PullPage } from '../../src/connectors/types.js';
import { UpstreamError } from '../../src/errors.js';
import { oauth1Header, seededRandom } from '../../src/http/index.js';
import type { Member, MemberValues } from '../../src/types.js';

const CREDS = { consumerKey: 'ck-123', consumerSecret: 'cs-456', token: 'tk-789', tokenSecret: 'ts-abc' };
const people: MemberValues[] = [
  { first_name: 'Ana', last_name: 'García', email: 'ana@example.org', sex: 'female', birth_date: '1990-05-06', city: 'Madrid', national_id: '111A' },
  { first_name: 'Juan', last_name: 'Pérez', email: 'juan@example.org', sex: 'male', province: 'Bizkaia' },
  { first_name: 'Eva', last_name: 'Ruiz', email: 'eva@example.org' },
  { first_name: 'Leo', last_name: 'Sanz', email: 'leo@example.org' },
  { first_name: 'Mar', last_name: 'Gil', email: 'mar@example.org' },
];

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function setup(simOpts: CommunitySimulatorOptions = {}, credentials: Record<string, string> = CREDS, options: Record<string, unknown> = {}) {
  const sim = await startCommunitySimulator({ people, outsiders: [{ first_name: 'Out', email: 'out@example.org' }], ...CREDS, ...simOpts });
  closers.push(() => sim.close());
  const ctx: ConnectorContext = {
    name: `community-${randomUUID()}`,
    config: {
      kind: 'community',
      baseUrl: sim.url,
      credentials,
      rateLimit: { perSecond: 0, concurrency: 4 },
      timeoutMs: 5000,
      trust: 0,
      options: { communityShortName: 'developers', communityId: sim.state.community.id, ...options },
    },
    log: pino({ level: 'silent' }),
  };
  return { sim, ctx };
}

async function collect(gen: AsyncGenerator<PullPage>): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const page of gen) pages.push(page);
  return pages;
}

function member(values: MemberValues): Member {
  return { id: randomUUID(), provenance: {}, created_run_id: null, ...values };
}

async function pushValues(ctx: ConnectorContext, values: MemberValues, remoteId?: string) {
  const options = communityConnector.optionsSchema.parse(ctx.config.options);
  const m = member(values);
  const payload = communityConnector.toRemote!(m, options, { remoteId }) as Record<string, unknown>;
  return communityConnector.push!(ctx, { member: m, remoteId, payload });
}

const idOf = (sim: Awaited<ReturnType<typeof setup>>['sim'], email: string): string =>
  [...sim.state.users.values()].find((u) => u.user.email === email)!.user.user_id!;

describe('community connector against its simulator', () => {
  it('checks the connection with one signed call', async () => {
    const { sim, ctx } = await setup();
    await communityConnector.check(ctx);
    expect(sim.requests.byRoute['GET /api/v3/community/get-community-information']).toBe(1);
  });

  it('pulls every member of the community in pages, mapping the GNOSS quirks', async () => {
    const { sim, ctx } = await setup({}, CREDS, { pageSize: 2 });
    const pages = await collect(communityConnector.pull!(ctx, {}));
    expect(pages.map((p) => p.records.length)).toEqual([2, 2, 1]);
    const records = pages.flatMap((p) => p.records);
    expect(records.map((r) => r.values.email).sort()).toEqual(people.map((p) => p.email).sort());
    const ana = records.find((r) => r.values.email === 'ana@example.org')!;
    expect(ana.ref.externalId).toBe(idOf(sim, 'ana@example.org'));
    expect(ana.values).toMatchObject({ first_name: 'Ana', sex: 'female', birth_date: '1990-05-06', city: 'Madrid', national_id: '111A' });
    expect(ana.raw).toMatchObject({ sex: 'M', born_date: '1990-05-06T00:00:00' });
    expect(records.find((r) => r.values.email === 'juan@example.org')!.values).toMatchObject({ sex: 'male', province: 'Bizkaia' });
    // the outsider is not a member of the community
    expect(records.some((r) => r.values.email === 'out@example.org')).toBe(false);
    expect(pages[0].cursor).toMatchObject({ offset: 2 });
    expect(pages[2].cursor).toEqual({ searchDate: expect.any(String) });
    expect(sim.requests.byRoute['GET /api/v3/user/get-by-id']).toBe(5);
  });

  it('resumes a cut-short listing after the last committed page', async () => {
    const { ctx } = await setup({}, CREDS, { pageSize: 2 });
    const first = await collect(communityConnector.pull!(ctx, {}));
    const resumed = await collect(communityConnector.pull!(ctx, { cursor: first[0].cursor }));
    expect(resumed.flatMap((p) => p.records.map((r) => r.ref.externalId))).toEqual(first.slice(1).flatMap((p) => p.records.map((r) => r.ref.externalId)));
  });

  it('pulls incrementally: only users modified since the last pull', async () => {
    const { sim, ctx } = await setup();
    for (const u of sim.state.users.values()) u.modifiedAt = 0;
    const full = await collect(communityConnector.pull!(ctx, {}));
    const cursor = full.at(-1)!.cursor;
    const eva = idOf(sim, 'eva@example.org');
    expect((await pushValues(ctx, { first_name: 'Evangelina', email: 'eva@example.org' }, eva)).success).toBe(true);
    const before = sim.requests.byRoute['GET /api/v3/community/get-community-information'];
    const next = await collect(communityConnector.pull!(ctx, { cursor }));
    expect(next.flatMap((p) => p.records.map((r) => r.values.first_name))).toEqual(['Evangelina']);
    expect(sim.requests.byRoute['GET /api/v3/user/get-modified-users']).toBe(1);
    expect(sim.requests.byRoute['GET /api/v3/community/get-community-information']).toBe(before);
    // nothing changed since (the search date is inclusive, so age the last change):
    // one empty page that still moves the checkpoint on
    for (const u of sim.state.users.values()) u.modifiedAt = 0;
    const none = await collect(communityConnector.pull!(ctx, { cursor: next.at(-1)!.cursor }));
    expect(none).toHaveLength(1);
    expect(none[0].records).toEqual([]);
  });

  it('updates a user with modify-user: only the honoured fields, sex as H/M', async () => {
    const { sim, ctx } = await setup();
    const juan = idOf(sim, 'juan@example.org');
    const res = await pushValues(ctx, { first_name: 'Juana', sex: 'female', birth_date: '1970-01-02', national_id: 'IGNORED', city: 'Bilbao', language: 'eu' }, juan);
    expect(res).toEqual({ success: true, action: 'updated', remoteId: juan, requests: 1 });
    const stored = sim.state.users.get(juan)!.user;
    expect(stored).toMatchObject({ name: 'Juana', last_name: 'Pérez', sex: 'M', born_date: '1970-01-02T00:00:00', city: 'Bilbao', provice: 'Bizkaia' });
    expect(stored.id_card).toBeNull();
    expect(stored.languaje).toBeUndefined();
  });

  it('skips a member with no community user_id: modify-user cannot create', async () => {
    const { sim, ctx } = await setup();
    const res = await pushValues(ctx, { first_name: 'New', email: 'new@example.org' });
    expect(res).toMatchObject({ success: true, action: 'skipped', requests: 0 });
    expect(sim.requests.total).toBe(0);
  });

  it.each([
    ['consumer secret', { ...CREDS, consumerSecret: 'wrong' }],
    ['token secret', { ...CREDS, tokenSecret: 'wrong' }],
    ['consumer key', { ...CREDS, consumerKey: 'unknown' }],
  ])('reports a wrong %s as an auth error (401 Invalid OAuth signature) without retrying', async (_what, creds) => {
    const { sim, ctx } = await setup({}, creds);
    const err = await communityConnector.check(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ kind: 'auth', status: 401 });
    expect((err as Error).message).toContain('Invalid OAuth signature');
    expect(sim.requests.total).toBe(1);
    const res = await pushValues(ctx, { first_name: 'X' }, idOf(sim, 'ana@example.org'));
    expect(res).toMatchObject({ success: false, requests: 1, error: { kind: 'auth', status: 401 } });
    expect(sim.requests.total).toBe(2);
  });

  it('accepts only the GNOSS way of signing: GET and the URL without query, even for a POST', async () => {
    const { sim } = await setup();
    const url = `${sim.url}/user/modify-user`;
    const body = JSON.stringify({ user_id: idOf(sim, 'ana@example.org'), community_id: sim.state.community.id, name: 'Signed' });
    const post = (authorization: string) =>
      fetch(url, { method: 'POST', body, headers: { authorization, 'content-type': 'application/json' } });
    const rfc = await post(oauth1Header(CREDS, { method: 'POST', url }));
    expect(rfc.status).toBe(401);
    expect(await rfc.text()).toBe('Invalid OAuth signature');
    const gnoss = await post(oauth1Header(CREDS, { method: 'POST', url }, { profile: 'gnoss' }));
    expect(gnoss.status).toBe(200);
    expect(await gnoss.text()).toBe('');
    expect(sim.state.users.get(idOf(sim, 'ana@example.org'))!.user.name).toBe('Signed');
  });

  it('maps each documented error to a kind, and never retries a 4xx', async () => {
    const { sim, ctx } = await setup();
    const outsider = idOf(sim, 'out@example.org');
    const cases: Array<[Promise<unknown>, string, string]> = [
      [pushValues(ctx, { first_name: 'X' }, randomUUID()), 'not_found', 'The user does not exist'],
      [pushValues(ctx, { first_name: 'X' }, outsider), 'not_found', 'The user does not participate in the community'],
    ];
    for (const [promise, kind, message] of cases) {
      const res = (await promise) as { success: boolean; error: UpstreamError; requests: number };
      expect(res.success).toBe(false);
      expect(res.error).toMatchObject({ kind, status: 400 });
      expect(res.error.message).toContain(message);
      expect(res.requests).toBe(1);
    }
    expect(sim.requests.byRoute['POST /api/v3/user/modify-user']).toBe(2);

    const { sim: sim2, ctx: wrongCommunity } = await setup({}, CREDS, { communityId: randomUUID() });
    const res = await pushValues(wrongCommunity, { first_name: 'X' }, idOf(sim2, 'ana@example.org'));
    expect(res).toMatchObject({ success: false, requests: 1, error: { kind: 'validation', status: 400 } });
    expect((res as { error: Error }).error.message).toContain('The community does not exist');

    const badDate = await collect(communityConnector.pull!(ctx, { cursor: { searchDate: 'last tuesday' } })).catch((e: unknown) => e);
    expect(badDate).toMatchObject({ kind: 'validation', status: 400 });
    expect((badDate as Error).message).toContain('search_date has not the ISO8601 format');
  });

  it('reports a non-admin OAuth user as an auth error', async () => {
    const { sim, ctx } = await setup({ oauthUserIsAdmin: false });
    const res = await pushValues(ctx, { first_name: 'X' }, idOf(sim, 'ana@example.org'));
    expect(res).toMatchObject({ success: false, requests: 1, error: { kind: 'auth', status: 401 } });
    expect((res as { error: Error }).error.message).toContain('does not have permission');
  });

  it('retries 429 honouring Retry-After, and gives a too-long Retry-After back to the caller', async () => {
    const { sim, ctx } = await setup({ faults: { rateLimitRate: 1, retryAfterSeconds: 0 } });
    const ana = idOf(sim, 'ana@example.org');
    const res = await pushValues(ctx, { first_name: 'X' }, ana);
    expect(res).toMatchObject({ success: false, requests: 4, error: { kind: 'rate_limited', status: 429 } });
    expect(sim.requests.byRoute['POST /api/v3/user/modify-user']).toBe(4);

    sim.setFaults({ rateLimitRate: 1, retryAfterSeconds: 3600 });
    const long = await pushValues(ctx, { first_name: 'X' }, ana);
    expect(long).toMatchObject({ success: false, requests: 1, error: { kind: 'rate_limited', retryAfterMs: 3_600_000 } });
    expect(sim.requests.byRoute['POST /api/v3/user/modify-user']).toBe(5);
  });

  it('retries a 500 and a dropped connection, then succeeds', async () => {
    // a seed whose first draw fails and second passes, computed rather than guessed
    const seed = findSeed((r) => {
      const first = [r(), r(), r()];
      const second = [r(), r(), r()];
      return first[2] < 0.5 && second[2] >= 0.5 && first[0] >= 0.5 && second[0] >= 0.5;
    });
    const { sim, ctx } = await setup({ faults: { errorRate: 0.5, seed } });
    const ana = idOf(sim, 'ana@example.org');
    const res = await pushValues(ctx, { first_name: 'Retried' }, ana);
    expect(res).toEqual({ success: true, action: 'updated', remoteId: ana, requests: 2 });
    expect(sim.requests.total).toBe(2);
    expect(sim.state.users.get(ana)!.user.name).toBe('Retried');

    // the reset draw is the first of each triple
    const seed2 = findSeed((r) => {
      const first = [r(), r(), r()];
      const second = [r(), r(), r()];
      return first[0] < 0.5 && second[0] >= 0.5;
    });
    sim.setFaults({ resetRate: 0.5, seed: seed2 });
    const again = await pushValues(ctx, { first_name: 'AfterReset' }, ana);
    expect(again).toMatchObject({ success: true, requests: 2 });
    expect(sim.state.users.get(ana)!.user.name).toBe('AfterReset');
  });
});

function findSeed(ok: (random: () => number) => boolean): number {
  for (let seed = 1; seed < 10_000; seed++) if (ok(seededRandom(seed))) return seed;
  throw new Error('no seed found');
}
