import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorContext } from '../../src/connectors/types.js';
import { voterUpdate, wevoteClient } from '../../src/connectors/wevote/client.js';
import { wevoteConnector } from '../../src/connectors/wevote/index.js';
import { newVoterDeviceId, startWeVoteSimulator, VOTER_UPDATE_PATH, type WeVoteSimulatorOptions } from '../../src/connectors/wevote/simulator.js';
import { ConfigError, UpstreamError } from '../../src/errors.js';
import { seededRandom } from '../../src/http/index.js';
import type { Member, MemberValues } from '../../src/types.js';

const MANAGEMENT_KEY = 'mgmt-key-0123';
const people: MemberValues[] = [
  { email: 'ann@example.org', first_name: 'Ann', last_name: 'Lee', interface_status_flags: 0, notification_settings_flags: 0 },
  // 256 is a bit WeVote does not define (yet): pushes must leave it alone
  { email: 'bob@example.org', first_name: 'Bob', last_name: 'Ray', interface_status_flags: 256 | 3, notification_settings_flags: 6 },
];

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function setup(simOpts: WeVoteSimulatorOptions = {}, credentials: Record<string, string> = {}, options: Record<string, unknown> = {}) {
  const device = newVoterDeviceId();
  const sim = await startWeVoteSimulator({ people, managementApiKey: MANAGEMENT_KEY, deviceIds: [device], ...simOpts });
  closers.push(() => sim.close());
  const ctx: ConnectorContext = {
    name: `wevote-${randomUUID()}`,
    config: {
      kind: 'wevote',
      baseUrl: sim.url,
      credentials: { apiKey: 'api-key-1', managementApiKey: MANAGEMENT_KEY, voterDeviceId: device, ...credentials },
      rateLimit: { perSecond: 0, concurrency: 4 },
      timeoutMs: 5000,
      trust: 0,
      options,
    },
    log: pino({ level: 'silent' }),
  };
  const byEmail = (email: string) => [...sim.state.voters.values()].find((v) => v.email === email);
  return { sim, ctx, byEmail, route: `POST ${VOTER_UPDATE_PATH}` };
}

function member(values: MemberValues): Member {
  return { id: randomUUID(), provenance: {}, created_run_id: null, ...values };
}

async function push(ctx: ConnectorContext, values: MemberValues, remoteId?: string) {
  const options = wevoteConnector.optionsSchema.parse(ctx.config.options);
  const m = member(values);
  const payload = wevoteConnector.toRemote!(m, options);
  if ('skip' in payload) throw new Error(`skipped: ${String(payload.skip)}`);
  return wevoteConnector.push!(ctx, { member: m, remoteId, payload });
}

describe('wevote connector against its simulator', () => {
  it('checks the device id and management key with one call', async () => {
    const { sim, ctx } = await setup();
    await wevoteConnector.check(ctx);
    expect(sim.requests.total).toBe(1);

    const { sim: sim2, ctx: wrongKey } = await setup({}, { managementApiKey: 'nope-nope' });
    await expect(wevoteConnector.check(wrongKey)).rejects.toMatchObject({ kind: 'auth', remoteCode: 'MANAGEMENT_API_KEY_NOT_ACCEPTED' });
    expect(sim2.requests.total).toBe(1);
  });

  it('refuses a device id of the wrong length before sending anything', async () => {
    const { sim, ctx } = await setup({}, { voterDeviceId: 'short' });
    await expect(wevoteConnector.check(ctx)).rejects.toBeInstanceOf(ConfigError);
    expect(sim.requests.total).toBe(0);
  });

  it('updates a voter found by email: names with _changed flags, bits through set/unset', async () => {
    const { sim, ctx, byEmail, route } = await setup();
    const bob = byEmail('bob@example.org')!;
    const res = await push(ctx, {
      email: 'BOB@example.org',
      first_name: 'Robert',
      middle_name: 'J',
      last_name: 'Ray',
      twitter_photo_url: 'https://tw/bob.jpg',
      interface_status_flags: 0b1000_0100,
      notification_settings_flags: 1,
    });
    expect(res).toEqual({ success: true, action: 'updated', remoteId: bob.we_vote_id, requests: 1 });
    expect(bob).toMatchObject({ first_name: 'Robert', middle_name: 'J', last_name: 'Ray', twitter_profile_image_url_https: 'https://tw/bob.jpg' });
    expect(bob.interface_status_flags).toBe(256 | 0b1000_0100);
    expect(bob.notification_settings_flags).toBe(1);
    expect(sim.requests.byRoute[route]).toBe(1);
  });

  it('drives only the newsletter bit from receive_newsletter', async () => {
    const { ctx, byEmail } = await setup();
    await push(ctx, { email: 'bob@example.org', receive_newsletter: true });
    expect(byEmail('bob@example.org')!.notification_settings_flags).toBe(7);
    await push(ctx, { email: 'bob@example.org', receive_newsletter: false });
    expect(byEmail('bob@example.org')!.notification_settings_flags).toBe(6);
  });

  it('does not let a twitter photo blank the last name', async () => {
    const { ctx, byEmail } = await setup();
    const res = await push(ctx, { email: 'ann@example.org', first_name: 'Annie', twitter_photo_url: 'https://tw/ann.jpg' });
    expect(res.success).toBe(true);
    expect(byEmail('ann@example.org')).toMatchObject({ first_name: 'Annie', last_name: 'Lee', twitter_profile_image_url_https: '' });
  });

  it('reports an unknown email as not found, and creates the voter when createAccount is on', async () => {
    const { sim, ctx, byEmail, route } = await setup();
    const missing = await push(ctx, { email: 'new@example.org', first_name: 'New' });
    expect(missing).toMatchObject({ success: false, requests: 1, error: { kind: 'not_found' } });
    expect(byEmail('new@example.org')).toBeUndefined();

    const { ctx: creating, sim: sim2, byEmail: byEmail2 } = await setup({}, {}, { createAccount: true });
    const created = await push(creating, { email: 'new@example.org', first_name: 'New', last_name: 'Person' });
    const voter = byEmail2('new@example.org')!;
    expect(created).toEqual({ success: true, action: 'created', remoteId: voter.we_vote_id, requests: 1 });
    expect(voter).toMatchObject({ first_name: 'New', last_name: 'Person' });
    const again = await push(creating, { email: 'new@example.org', first_name: 'Newer' }, voter.we_vote_id);
    expect(again).toMatchObject({ success: true, action: 'updated', remoteId: voter.we_vote_id });
    expect(sim2.state.voters.size).toBe(people.length + 2);
    expect(sim.requests.byRoute[route]).toBe(1);
  });

  it('sends phone_number (E.164): a voter whose e-mail is not verified but whose phone is SMS-verified is found, not created again', async () => {
    const una = { email: 'una@example.org', emailVerified: false, phone: '+34600111222', first_name: 'Una' };
    const { sim, ctx, route } = await setup({ voters: [una] }, {}, { createAccount: true });
    const voters = sim.state.voters.size;
    const options = wevoteConnector.optionsSchema.parse(ctx.config.options);
    expect(wevoteConnector.toRemote!(member({ email: 'una@example.org', phone: '+34600111222' }), options)).toMatchObject({ email_address: 'una@example.org', phone_number: '+34600111222' });
    // a phone that is not E.164 is not a lookup key
    expect(wevoteConnector.toRemote!(member({ email: 'x@example.org', phone: '600 111 222' }), options)).not.toHaveProperty('phone_number');
    const r = await push(ctx, { email: 'una@example.org', phone: '+34600111222', first_name: 'Una', last_name: 'Ruiz' });
    const found = [...sim.state.voters.values()].find((v) => v.phone === '+34600111222')!;
    expect(r).toEqual({ success: true, action: 'updated', remoteId: found.we_vote_id, requests: 1 });
    expect(sim.state.voters.size).toBe(voters);
    expect(found).toMatchObject({ first_name: 'Una', last_name: 'Ruiz', email: null, unverified_email: 'una@example.org' });
    expect(sim.requests.byRoute[route]).toBe(1);
    // a member with a phone and no e-mail is found by the phone alone
    const byPhone = await push(ctx, { phone: '+34600111222', first_name: 'Unai' });
    expect(byPhone).toMatchObject({ success: true, action: 'updated', remoteId: found.we_vote_id });
    expect(found.first_name).toBe('Unai');
  });

  it('maps a refused management key to auth and does not retry it', async () => {
    const { sim, ctx } = await setup({}, { managementApiKey: 'wrong-key' });
    const res = await push(ctx, { email: 'ann@example.org', first_name: 'X' });
    expect(res).toMatchObject({ success: false, requests: 1, error: { kind: 'auth', remoteCode: 'MANAGEMENT_API_KEY_NOT_ACCEPTED', status: 200 } });
    expect(sim.requests.total).toBe(1);
  });

  it('maps a bad device id to auth', async () => {
    const { sim, ctx } = await setup();
    const client = wevoteClient(ctx);
    const creds = { apiKey: 'k', managementApiKey: MANAGEMENT_KEY, voterDeviceId: 'too-short' };
    const err = await voterUpdate(client, creds, { email_address: 'ann@example.org' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ kind: 'auth', remoteCode: 'VALID_VOTER_DEVICE_ID_MISSING' });
    expect(sim.requests.total).toBe(1);
  });

  it('retries a database error (UNABLE_TO_UPDATE_VOTER) and then succeeds', async () => {
    const { sim, ctx, byEmail } = await setup();
    sim.state.failNextUpdate = 'deadlock detected';
    const res = await push(ctx, { email: 'ann@example.org', first_name: 'Second' });
    expect(res).toMatchObject({ success: true, action: 'updated', requests: 2 });
    expect(sim.requests.total).toBe(2);
    expect(byEmail('ann@example.org')!.first_name).toBe('Second');
  });

  it('retries 429 honouring Retry-After, and a 500, counting attempts at the simulator', async () => {
    const { sim, ctx, route } = await setup({ faults: { rateLimitRate: 1, retryAfterSeconds: 0 } });
    const limited = await push(ctx, { email: 'ann@example.org', first_name: 'X' });
    expect(limited).toMatchObject({ success: false, requests: 4, error: { kind: 'rate_limited', status: 429 } });
    expect(sim.requests.byRoute[route]).toBe(4);

    sim.setFaults({ rateLimitRate: 1, retryAfterSeconds: 600 });
    const tooLong = await push(ctx, { email: 'ann@example.org', first_name: 'X' });
    expect(tooLong).toMatchObject({ success: false, requests: 1, error: { kind: 'rate_limited', retryAfterMs: 600_000 } });

    let seed = 1;
    while (!(() => { const r = seededRandom(seed); const a = [r(), r(), r()]; const b = [r(), r(), r()]; return a[2] < 0.5 && b[2] >= 0.5; })()) seed++;
    sim.setFaults({ errorRate: 0.5, seed });
    const retried = await push(ctx, { email: 'ann@example.org', first_name: 'AfterRetry' });
    expect(retried).toMatchObject({ success: true, requests: 2 });
  });
});

describe('wevote simulator quirks (GET vs POST)', () => {
  async function call(url: string, method: 'GET' | 'POST', fields: Record<string, string>) {
    const body = new URLSearchParams(fields).toString();
    const res = method === 'GET'
      ? await fetch(`${url}${VOTER_UPDATE_PATH}?${body}`)
      : await fetch(`${url}${VOTER_UPDATE_PATH}`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  it('follows the documented parsing rules', async () => {
    const device = newVoterDeviceId();
    const sim = await startWeVoteSimulator({ people, managementApiKey: MANAGEMENT_KEY, deviceIds: [device] });
    closers.push(() => sim.close());
    const ann = [...sim.state.voters.values()].find((v) => v.email === 'ann@example.org')!;
    const lookup = { voter_device_id: device, management_api_key: MANAGEMENT_KEY, email_address: 'ann@example.org' };

    // POST without _changed: ignored; nothing to change
    let r = await call(sim.url, 'POST', { ...lookup, first_name: 'Ignored' });
    expect(r.status).toBe('MISSING_VARIABLE_NO_VARIABLES_PASSED_IN_TO_CHANGE ');
    expect(ann.first_name).toBe('Ann');
    // POST with _changed stores the value literally, "False" included
    r = await call(sim.url, 'POST', { ...lookup, middle_name: 'False', middle_name_changed: 'true' });
    expect(r).toMatchObject({ status: 'UPDATED_VOTER ', success: true, middle_name: 'False', flag_integer_to_set: false });
    expect(ann.middle_name).toBe('False');
    // GET: "false" means unchanged, *_changed is ignored, an empty value clears
    r = await call(sim.url, 'GET', { ...lookup, first_name: 'false', last_name: '', last_name_changed: 'false' });
    expect(ann).toMatchObject({ first_name: 'Ann', last_name: '' });
    // set before unset; a whole value wins over set/unset; "False" resets to 0
    await call(sim.url, 'POST', { ...lookup, notification_flag_integer_to_set: '3', notification_flag_integer_to_unset: '1' });
    expect(ann.notification_settings_flags).toBe(2);
    await call(sim.url, 'POST', { ...lookup, interface_status_flags: '9', flag_integer_to_set: '4' });
    expect(ann.interface_status_flags).toBe(9);
    r = await call(sim.url, 'GET', { ...lookup, interface_status_flags: 'False' });
    expect(r.interface_status_flags).toBe(0);
    // the device's own voter without a management key; an unknown device; a bad one
    r = await call(sim.url, 'POST', { voter_device_id: device, first_name: 'Dev', first_name_changed: '1' });
    expect(r).toMatchObject({ success: true, first_name: 'Dev' });
    r = await call(sim.url, 'POST', { voter_device_id: newVoterDeviceId(), first_name: 'X', first_name_changed: '1' });
    expect(r).toMatchObject({ success: false, status: 'VOTER_NOT_FOUND_FROM_DEVICE_ID-VOTER_UPDATE ' });
    r = await call(sim.url, 'GET', { voter_device_id: 'abc' });
    expect(r).toMatchObject({ success: false, status: 'VOTER_DEVICE_ID_NOT_BALLOT VALID_VOTER_DEVICE_ID_MISSING ' });
  });
});
