import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionSchema } from '../../src/config/schema.js';
import { ikanowApi, ikanowConnector, startIkanowSimulator, type IkanowSimulatorOptions } from '../../src/connectors/ikanow/index.js';
import type { ConnectorContext, PullPage, PushResult } from '../../src/connectors/types.js';
import { UpstreamError } from '../../src/errors.js';
import { seededRandom } from '../../src/http/index.js';
import type { Member, MemberValues } from '../../src/types.js';

const ADMIN = { apiKey: 'ik-admin-key-123', username: 'admin@ikanow.example', password: 'adm1n-pa55word' };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

const people: MemberValues[] = [
  { email: 'jill@ikanow.com', first_name: 'Jill', last_name: 'Smith', phone: '5555555555' },
  { email: 'jack@ikanow.com', first_name: 'Jack' },
  { email: 'kim@ikanow.com', last_name: 'Kim' },
  { email: 'lou@ikanow.com', first_name: 'Lou', last_name: 'Reed' },
  { email: 'max@ikanow.com', first_name: 'Max' },
];

type Sim = Awaited<ReturnType<typeof startIkanowSimulator>>;

async function setup(opts: Partial<IkanowSimulatorOptions> = {}, credentials: Record<string, string> = { apiKey: ADMIN.apiKey }, options: Record<string, unknown> = {}) {
  const sim = await startIkanowSimulator({ people, ...ADMIN, ...opts });
  closers.push(() => sim.close());
  const config = connectionSchema.parse({ kind: 'ikanow', baseUrl: sim.url, credentials, rateLimit: { perSecond: 0, concurrency: 4 }, timeoutMs: 5000, options });
  const ctx: ConnectorContext = { name: 'ikanow-test', config, log: pino({ level: 'silent' }) };
  closers.push(async () => ikanowApi(ctx).http.close());
  return { sim, ctx };
}

const member = (values: Partial<Member>): Member => ({ id: 'm', provenance: {}, created_run_id: null, ...values });

async function pushMember(ctx: ConnectorContext, m: Member, remoteId?: string): Promise<PushResult> {
  const payload = ikanowConnector.toRemote!(m, ikanowConnector.optionsSchema.parse(ctx.config.options));
  if ('skip' in payload) throw new Error(String(payload.skip));
  return ikanowConnector.push!(ctx, { member: m, remoteId, payload });
}

async function collect(gen: AsyncGenerator<PullPage>): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const p of gen) pages.push(p);
  return pages;
}

const personByEmail = (sim: Sim, email: string) => [...sim.state.people.values()].find((p) => p.email === email);

/** a fault seed whose draws (reset, 429, 500 per request) fail request 1 in `slot` and pass requests 2 and 3 */
function seedFailingFirst(slot: 0 | 1 | 2, rate = 0.5): number {
  for (let seed = 1; seed < 10_000; seed++) {
    const r = seededRandom(seed);
    const d = Array.from({ length: 9 }, () => r());
    if (d[slot] < rate && d.slice(0, slot).every((x) => x >= rate) && d.slice(3).every((x) => x >= rate)) return seed;
  }
  throw new Error('no seed');
}

describe('ikanow: auth', () => {
  it('checks with an API key, sent as a header', async () => {
    const { ctx, sim } = await setup();
    await ikanowConnector.check(ctx);
    expect(sim.requests.byRoute['GET /social/person/get']).toBe(1);
  });

  it('logs in with username + password, sending only the SHA-256 hash, and reuses the cookie', async () => {
    const { ctx, sim } = await setup({}, { username: ADMIN.username, password: ADMIN.password });
    await ikanowConnector.check(ctx);
    const pages = await collect(ikanowConnector.pull!(ctx, {}));
    expect(pages.flatMap((p) => p.records)).toHaveLength(5);
    expect(sim.state.plainPasswords).toBe(0);
    expect(sim.state.sessions.size).toBe(1);
    const loginRoutes = Object.keys(sim.requests.byRoute).filter((k) => k.includes('/auth/login/'));
    expect(loginRoutes).toHaveLength(1);
    expect(loginRoutes[0]).not.toContain(ADMIN.password);
    expect(sim.requests.byRoute[loginRoutes[0]]).toBe(1);
  });

  it('logs in again once when the session expires', async () => {
    const { ctx, sim } = await setup({}, { username: ADMIN.username, password: ADMIN.password });
    await ikanowConnector.check(ctx);
    sim.state.sessions.clear();
    await ikanowConnector.check(ctx);
    expect(sim.state.sessions.size).toBe(1);
    expect(sim.requests.total).toBe(5); // login, get, get (expired), login, get
  });

  it('refuses a wrong API key and a wrong password as auth, without retrying', async () => {
    const badKey = await setup({}, { apiKey: 'wrong-key-000' });
    const err = (await ikanowConnector.check(badKey.ctx).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ kind: 'auth', status: 200 });
    expect(err.message).toContain('Insufficient privileges or not logged in');
    expect(badKey.sim.requests.total).toBe(1);

    const badPw = await setup({}, { username: ADMIN.username, password: 'not-it-at-all' });
    const err2 = (await ikanowConnector.check(badPw.ctx).catch((e: unknown) => e)) as UpstreamError;
    expect(err2.kind).toBe('auth');
    expect(err2.message).not.toContain('not-it-at-all');
    expect(badPw.sim.requests.total).toBe(1);
    expect(badPw.sim.state.plainPasswords).toBe(0);
  });

  it('counts a password that arrives in clear (what the client must never do)', async () => {
    const { sim } = await setup();
    const res = await fetch(`${sim.url}/auth/login/${ADMIN.username}/${ADMIN.password}`);
    const body = (await res.json()) as { response: { success: boolean } };
    expect(res.status).toBe(200);
    expect(body.response.success).toBe(false);
    expect(sim.state.plainPasswords).toBe(1);
  });
});

describe('ikanow: pull and get', () => {
  it('pulls everyone in pages sorted by _id, resuming after a cursor', async () => {
    const { ctx, sim } = await setup({}, { apiKey: ADMIN.apiKey }, { pageSize: 2 });
    const pages = await collect(ikanowConnector.pull!(ctx, {}));
    expect(pages.map((p) => p.records.length)).toEqual([2, 2, 1]);
    const records = pages.flatMap((p) => p.records);
    expect(records.map((r) => r.values.email)).toEqual(people.map((p) => p.email));
    expect(records.every((r) => r.ref.externalId === r.raw._id)).toBe(true);
    expect(pages.at(-1)!.cursor).toEqual({ complete: true });
    expect(sim.requests.byRoute['GET /social/person/list']).toBe(1);

    const rest = await collect(ikanowConnector.pull!(ctx, { cursor: pages[0].cursor }));
    expect(rest.flatMap((p) => p.records).map((r) => r.values.email)).toEqual(people.slice(2).map((p) => p.email));
  });

  it('gets by _id and by e-mail; an unknown id is no person, not an error', async () => {
    const { ctx, sim } = await setup();
    const api = ikanowApi(ctx);
    const jill = personByEmail(sim, 'jill@ikanow.com')!;
    expect((await api.get(jill._id))?.firstName).toBe('Jill');
    expect((await api.get('jack@ikanow.com'))?._id).toBe(personByEmail(sim, 'jack@ikanow.com')!._id);
    expect(await api.get('000000000000000000000000')).toBeUndefined();
  });

  it('a pull of nobody is one empty, complete page', async () => {
    const { ctx } = await setup({ people: [] });
    expect(await collect(ikanowConnector.pull!(ctx, {}))).toEqual([{ records: [], cursor: { complete: true } }]);
  });
});

describe('ikanow: push', () => {
  it('updates by remote id, e-mail change included', async () => {
    const { ctx, sim } = await setup();
    const jill = personByEmail(sim, 'jill@ikanow.com')!;
    const res = await pushMember(ctx, member({ email: 'jill.smith@ikanow.com', first_name: 'Jillian' }), jill._id);
    expect(res).toEqual({ success: true, action: 'updated', remoteId: jill._id, requests: 2 });
    expect(jill).toMatchObject({ email: 'jill.smith@ikanow.com', firstName: 'Jillian', lastName: 'Smith', WPUserID: 'jill@ikanow.com' });
  });

  it('updates by e-mail without a remote id', async () => {
    const { ctx, sim } = await setup();
    const res = await pushMember(ctx, member({ email: 'kim@ikanow.com', first_name: 'Soo' }));
    expect(res).toMatchObject({ success: true, action: 'updated', remoteId: personByEmail(sim, 'kim@ikanow.com')!._id });
    expect(personByEmail(sim, 'kim@ikanow.com')!.firstName).toBe('Soo');
  });

  it('registers a new person with a hashed password and returns the new _id', async () => {
    const { ctx, sim } = await setup();
    const res = await pushMember(ctx, member({ email: 'new@ikanow.com', first_name: 'Nia', phone: '123' }));
    const nia = personByEmail(sim, 'new@ikanow.com')!;
    expect(res).toEqual({ success: true, action: 'created', remoteId: nia._id, requests: 2 });
    expect(nia).toMatchObject({ firstName: 'Nia', phone: '123', accountType: 'user' });
    expect(sim.state.plainPasswords).toBe(0);
  });

  it('returns register validation and a duplicate e-mail as failed pushes, not retried', async () => {
    const { ctx, sim } = await setup();
    const noName = await pushMember(ctx, member({ email: 'anon@ikanow.com' }));
    expect(noName).toMatchObject({ success: false, error: { kind: 'validation' }, requests: 2 });
    const jack = personByEmail(sim, 'jack@ikanow.com')!;
    const dup = await pushMember(ctx, member({ email: 'jill@ikanow.com' }), jack._id);
    expect(dup).toMatchObject({ success: false, error: { kind: 'duplicate', status: 200 }, requests: 2 });
    expect(jack.email).toBe('jack@ikanow.com');
  });

  it('skips people it does not have when createMissing is off', async () => {
    const { ctx } = await setup({}, { apiKey: ADMIN.apiKey }, { createMissing: false });
    expect(await pushMember(ctx, member({ email: 'new@ikanow.com', first_name: 'N' }))).toMatchObject({ success: true, action: 'skipped', requests: 1 });
  });

  it('reports not_found for an update IKANOW cannot place', async () => {
    const { ctx } = await setup();
    const err = await ikanowApi(ctx)
      .update({ user: { WPUserID: 'nobody@nowhere', email: ['x@y.z'] }, auth: {} })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'not_found' });
  });
});

describe('ikanow: faults', () => {
  it('retries a 429 and a 500 and counts the requests', async () => {
    const limited = await setup({ faults: { rateLimitRate: 0.5, retryAfterSeconds: 0, seed: seedFailingFirst(1) } });
    const res = await pushMember(limited.ctx, member({ email: 'max@ikanow.com', last_name: 'Power' }));
    expect(res).toMatchObject({ success: true, action: 'updated', requests: 3 });
    expect(limited.sim.requests.total).toBe(3);

    const failing = await setup({ faults: { errorRate: 0.5, seed: seedFailingFirst(2) } });
    expect(await pushMember(failing.ctx, member({ email: 'max@ikanow.com', last_name: 'Power' }))).toMatchObject({ success: true, requests: 3 });
    expect(failing.sim.requests.total).toBe(3);
  });

  it('retries a dropped connection', async () => {
    const { ctx, sim } = await setup({ faults: { resetRate: 0.5, seed: seedFailingFirst(0) } });
    await ikanowConnector.check(ctx);
    expect(sim.requests.total).toBe(2);
  });

  it('hands back a long Retry-After instead of waiting it out', async () => {
    const { ctx, sim } = await setup({ faults: { rateLimitRate: 1, retryAfterSeconds: 3600 } });
    const err = await ikanowConnector.check(ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 3_600_000 });
    expect(sim.requests.total).toBe(1);
  });
});
