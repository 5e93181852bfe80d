import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionSchema } from '../../src/config/schema.js';
import { convioApi, convioConnector, startConvioSimulator, type ConvioSimulatorOptions } from '../../src/connectors/convio/index.js';
import type { ConnectorContext, PullPage, PushResult } from '../../src/connectors/types.js';
import { UpstreamError } from '../../src/errors.js';
import { seededRandom } from '../../src/http/index.js';
import type { Member, MemberValues } from '../../src/types.js';

const CREDS = { apiKey: 'test-api-key-123', loginName: 'api-user', loginPassword: 'pw-very-secret' };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

const people: MemberValues[] = [
  { member_id: 'M-1', email: 'ann@example.org', first_name: 'Ann', last_name: 'Lee', groups: ['1001'] },
  { member_id: 'M-2', email: 'bob@example.org', first_name: 'Bob', groups: ['1001', '1002'] },
  { email: 'cy@example.org', first_name: 'Cy', groups: ['1001'] },
  { member_id: 'M-4', email: 'di@example.org', first_name: 'Di', groups: ['1001'] },
  { member_id: 'M-5', email: 'ed@example.org', first_name: 'Ed', city: 'Lyon', groups: ['1001'] },
  { member_id: 'M-6', email: 'fay@example.org', first_name: 'Fay', groups: ['1002'] },
];

async function setup(opts: Partial<ConvioSimulatorOptions> = {}, options: Record<string, unknown> = {}, credentials = CREDS) {
  const sim = await startConvioSimulator({ people, apiKey: CREDS.apiKey, loginName: CREDS.loginName, loginPassword: CREDS.loginPassword, groupIds: [1001, 1002], ...opts });
  closers.push(() => sim.close());
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const config = connectionSchema.parse({
    kind: 'convio',
    baseUrl: sim.url,
    credentials,
    rateLimit: { perSecond: 0, concurrency: 4 },
    timeoutMs: 5000,
    options: { groupIds: [1001, 1002], ...options },
  });
  const ctx: ConnectorContext = { name: 'convio-test', config, log: pino({ level: 'warn' }, sink) };
  closers.push(async () => convioApi(ctx).http.close());
  return { sim, ctx, lines };
}

const member = (values: Partial<Member>): Member => ({ id: 'm', provenance: {}, created_run_id: null, ...values });

async function pushMember(ctx: ConnectorContext, m: Member, remoteId?: string): Promise<PushResult> {
  const payload = convioConnector.toRemote!(m, convioConnector.optionsSchema.parse(ctx.config.options));
  if ('skip' in payload) throw new Error(String(payload.skip));
  return convioConnector.push!(ctx, { member: m, remoteId, payload });
}

async function collect(gen: AsyncGenerator<PullPage>): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const p of gen) pages.push(p);
  return pages;
}

/** a fault seed whose draws (reset, 429, 500 per request) fail request 1 one way and pass request 2 */
function seedFailingFirst(slot: 0 | 1 | 2, rate = 0.5): number {
  for (let seed = 1; seed < 10_000; seed++) {
    const r = seededRandom(seed);
    const d = Array.from({ length: 6 }, () => r());
    const firstFails = d[slot] < rate && d.slice(0, slot).every((x) => x >= rate);
    if (firstFails && d.slice(3).every((x) => x >= rate)) return seed;
  }
  throw new Error('no seed');
}

function byEmail(sim: Awaited<ReturnType<typeof startConvioSimulator>>, email: string) {
  return [...sim.state.constituents.values()].find((c) => c.email === email);
}

describe('convio: auth and check', () => {
  it('check passes with good credentials', async () => {
    const { ctx, sim } = await setup();
    await convioConnector.check(ctx);
    expect(sim.requests.byRoute['POST listUserFields']).toBe(1);
  });

  it('refuses a wrong api key (code 2) and a wrong password (code 3) as auth, without retrying', async () => {
    const bad = await setup({}, {}, { ...CREDS, apiKey: 'wrong-key-0000' });
    const err = await convioConnector.check(bad.ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ kind: 'auth', status: 403, remoteCode: '2' });
    expect(bad.sim.requests.total).toBe(1);

    const badPw = await setup({}, {}, { ...CREDS, loginPassword: 'not-the-password' });
    const err2 = (await convioConnector.check(badPw.ctx).catch((e: unknown) => e)) as UpstreamError;
    expect(err2).toMatchObject({ kind: 'auth', remoteCode: '3' });
    expect(err2.message).not.toContain('not-the-password');
    expect(badPw.sim.requests.total).toBe(1);
  });

  it('answers XML by default and 405 to a GET, as documented', async () => {
    const { sim } = await setup();
    const form = new URLSearchParams({ method: 'getUser', api_key: CREDS.apiKey, v: '1.0', login_name: CREDS.loginName, login_password: CREDS.loginPassword, primary_email: 'ann@example.org' });
    const xml = await fetch(`${sim.url}/SRConsAPI`, { method: 'POST', body: form });
    expect(xml.status).toBe(200);
    const text = await xml.text();
    expect(text).toMatch(/^<\?xml/);
    expect(text).toContain('<getConsResponse');
    expect(text).toContain('<first>Ann</first>');
    const get = await fetch(`${sim.url}/SRConsAPI?method=getUser`);
    expect(get.status).toBe(405);
  });
});

describe('convio: pull', () => {
  it('pages through every configured group with the paging extension, once per person', async () => {
    const { ctx, sim } = await setup({}, { pagingExtension: true, pageSize: 2 });
    const pages = await collect(convioConnector.pull!(ctx, {}));
    const records = pages.flatMap((p) => p.records);
    expect(records.map((r) => r.values.email).sort()).toEqual(people.map((p) => p.email).sort());
    expect(new Set(records.map((r) => r.ref.externalId)).size).toBe(6);
    expect(records.every((r) => r.ref.externalId === r.values.cons_id)).toBe(true);
    expect(pages.at(-1)!.cursor).toEqual({ complete: true });
    expect(pages[0].cursor).toEqual({ groupId: 1001, offset: 2 });
    // group 1001: 5 people in pages of 2,2,1; group 1002: 2 people, then an empty page
    expect(sim.requests.byRoute['POST getGroupMembers']).toBe(5);
    const ed = records.find((r) => r.values.first_name === 'Ed')!;
    expect(ed.values).toMatchObject({ member_id: 'M-5', city: 'Lyon' });
    expect(ed.raw.cons_id).toBe(ed.values.cons_id);
  });

  it('resumes after a cursor', async () => {
    const { ctx } = await setup({}, { pagingExtension: true, pageSize: 2 });
    const pages = await collect(convioConnector.pull!(ctx, { cursor: { groupId: 1001, offset: 4 } }));
    expect(pages.flatMap((p) => p.records).map((r) => r.values.first_name)).toEqual(['Ed', 'Bob', 'Fay']);
  });

  it('without the extension makes one call per group and warns when a group fills the cap', async () => {
    const { ctx, sim, lines } = await setup({}, { pageSize: 3 });
    const pages = await collect(convioConnector.pull!(ctx, {}));
    expect(pages).toHaveLength(2);
    expect(sim.requests.byRoute['POST getGroupMembers']).toBe(2);
    expect(lines.join('')).toContain('"groupId":1001');
    expect(lines.join('')).not.toContain('"groupId":1002');
  });
});

describe('convio: getUser', () => {
  it('finds by cons_id, member_id and primary_email; reports not found and several matches', async () => {
    const { ctx, sim } = await setup({ people: [...people, { member_id: 'M-1', email: 'twin@example.org' }] });
    const api = convioApi(ctx);
    const cy = byEmail(sim, 'cy@example.org')!;
    expect((await api.getUser({ cons_id: cy.cons_id })).name?.first).toBe('Cy');
    expect((await api.getUser({ primary_email: 'DI@example.org' })).member_id).toBe('M-4');
    expect((await api.getUser({ member_id: 'M-6' })).email?.primary_address).toBe('fay@example.org');
    await expect(api.getUser({ cons_id: '999' })).rejects.toMatchObject({ kind: 'not_found', remoteCode: '16' });
    await expect(api.getUser({ member_id: 'M-1' })).rejects.toMatchObject({ kind: 'duplicate', remoteCode: '8' });
  });

  it('maps missing fields and bad ids to validation, and create of a taken e-mail to duplicate', async () => {
    const { ctx, sim } = await setup();
    const api = convioApi(ctx);
    await expect(api.create({ 'name.first': 'No Mail' })).rejects.toMatchObject({ kind: 'validation', remoteCode: '10' });
    await expect(api.update({ primary_email: 'ann@example.org' }, { add_group_ids: 'x,y' })).rejects.toMatchObject({ kind: 'validation', remoteCode: '22' });
    await expect(api.create({ primary_email: 'ANN@example.org' })).rejects.toMatchObject({ kind: 'duplicate', remoteCode: '11' });
    expect(sim.requests.total).toBe(3);
  });
});

describe('convio: push', () => {
  it('updates by remote id (cons_id) with group changes', async () => {
    const { ctx, sim } = await setup();
    const bob = byEmail(sim, 'bob@example.org')!;
    const res = await pushMember(ctx, member({ member_id: 'M-2', email: 'bob@example.org', first_name: 'Robert', groups: ['1001', '3003'] }), bob.cons_id);
    expect(res).toEqual({ success: true, action: 'updated', remoteId: bob.cons_id, requests: 1 });
    expect(bob.first_name).toBe('Robert');
    expect([...bob.groups].sort()).toEqual([1001, 3003]);
  });

  it('updates by member_id, then by e-mail when there is neither cons_id nor member_id', async () => {
    const { ctx, sim } = await setup();
    const di = byEmail(sim, 'di@example.org')!;
    expect(await pushMember(ctx, member({ member_id: 'M-4', email: 'di@example.org', last_name: 'Diaz' }))).toMatchObject({ success: true, action: 'updated', remoteId: di.cons_id });
    expect(di.last_name).toBe('Diaz');
    const cy = byEmail(sim, 'cy@example.org')!;
    expect(await pushMember(ctx, member({ email: 'cy@example.org', phone: '+15550100' }))).toMatchObject({ success: true, remoteId: cy.cons_id });
    expect(cy.phone).toBe('+15550100');
  });

  it('creates a person Convio does not have with createOrUpdate', async () => {
    const { ctx, sim } = await setup();
    const res = await pushMember(ctx, member({ member_id: 'M-99', email: 'new@example.org', first_name: 'Nia', groups: ['1002'] }));
    expect(res).toMatchObject({ success: true, action: 'created', requests: 2 });
    const nia = byEmail(sim, 'new@example.org')!;
    expect(res.success && res.action !== 'skipped' && res.remoteId).toBe(nia.cons_id);
    expect(nia).toMatchObject({ member_id: 'M-99', first_name: 'Nia' });
    expect([...nia.groups]).toEqual([1002]);
    expect(sim.requests.byRoute['POST createOrUpdate']).toBe(1);
  });

  it('skips instead of creating when createMissing is off', async () => {
    const { ctx, sim } = await setup({}, { createMissing: false });
    const res = await pushMember(ctx, member({ email: 'new@example.org' }));
    expect(res).toMatchObject({ success: true, action: 'skipped', requests: 1 });
    expect(sim.requests.byRoute['POST createOrUpdate']).toBeUndefined();
  });

  it('returns a duplicate e-mail as a failed push, not retried', async () => {
    const { ctx, sim } = await setup();
    const ann = byEmail(sim, 'ann@example.org')!;
    const res = await pushMember(ctx, member({ member_id: 'M-1', email: 'bob@example.org' }), ann.cons_id);
    expect(res.success).toBe(false);
    if (res.success) return;
    expect(res.error).toMatchObject({ kind: 'duplicate', remoteCode: '13' });
    expect(res.requests).toBe(1);
    expect(ann.email).toBe('ann@example.org');
  });

  it('returns not_found for a stale remote id when there is nothing to create by', async () => {
    const { ctx } = await setup();
    const res = await convioConnector.push!(ctx, { member: member({ first_name: 'X' }), remoteId: '424242', payload: { 'name.first': 'X' } });
    expect(res).toMatchObject({ success: false, error: { kind: 'not_found' }, requests: 1 });
  });
});

describe('convio: faults', () => {
  it('retries a 429 and counts both requests', async () => {
    const { ctx, sim } = await setup({ faults: { rateLimitRate: 0.5, retryAfterSeconds: 0, seed: seedFailingFirst(1) } });
    const res = await pushMember(ctx, member({ member_id: 'M-4', email: 'di@example.org', last_name: 'Retry' }));
    expect(res).toMatchObject({ success: true, action: 'updated', requests: 2 });
    expect(sim.requests.byRoute['POST update']).toBe(2);
  });

  it('honours a long Retry-After by handing it back instead of hammering', async () => {
    const { ctx, sim } = await setup({ faults: { rateLimitRate: 1, retryAfterSeconds: 7200 } });
    const res = await pushMember(ctx, member({ member_id: 'M-4', email: 'di@example.org' }));
    expect(res).toMatchObject({ success: false, error: { kind: 'rate_limited', retryAfterMs: 7_200_000 }, requests: 1 });
    expect(sim.requests.total).toBe(1);
  });

  it('retries a 500 and a dropped connection', async () => {
    const five = await setup({ faults: { errorRate: 0.5, seed: seedFailingFirst(2) } });
    expect(await pushMember(five.ctx, member({ member_id: 'M-4', email: 'di@example.org' }))).toMatchObject({ success: true, requests: 2 });
    expect(five.sim.requests.total).toBe(2);
    const reset = await setup({ faults: { resetRate: 0.5, seed: seedFailingFirst(0) } });
    expect(await pushMember(reset.ctx, member({ member_id: 'M-4', email: 'di@example.org' }))).toMatchObject({ success: true, requests: 2 });
    expect(reset.sim.requests.total).toBe(2);
  });

  it('gives up on a persistent 500 with a server error', async () => {
    const { ctx, sim } = await setup({ faults: { errorRate: 1 } });
    const res = await pushMember(ctx, member({ member_id: 'M-4', email: 'di@example.org' }));
    expect(res).toMatchObject({ success: false, error: { kind: 'server', status: 500 }, requests: 4 });
    expect(sim.requests.total).toBe(4);
  });
});
