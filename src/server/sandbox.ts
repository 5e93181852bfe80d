/**
 * The sandbox: all five simulators on loopback, seeded with overlapping generated people
 * (the same person in several systems, with case and format differences), and the
 * connections config that points at them. Used by `member-sync sandbox`, the demo, tests
 * and benchmarks.
 */
import { createHash } from 'node:crypto';
import { stringify as toYaml } from 'yaml';
import { startCommunitySimulator } from '../connectors/community/simulator.js';
import { startConvioSimulator } from '../connectors/convio/simulator.js';
import { startIkanowSimulator } from '../connectors/ikanow/simulator.js';
import type { SimulatorHandle } from '../connectors/types.js';
import { startVocdoniSimulator } from '../connectors/vocdoni/simulator.js';
import { startWeVoteSimulator } from '../connectors/wevote/simulator.js';
import { person, type GeneratedPerson } from '../members/generate.js';
import type { MemberValues } from '../types.js';

export interface SandboxOptions {
  people?: number;
  seed?: number;
  /** first port; the five simulators take port..port+4 (0 = free ports) */
  port?: number;
  host?: string;
}

export interface Sandbox {
  simulators: Record<'convio' | 'ikanow' | 'community' | 'wevote' | 'vocdoni', SimulatorHandle>;
  /** environment variables holding the sandbox credentials */
  env: Record<string, string>;
  /** `connections:` config with `${ENV}` credentials */
  connections: Record<string, Record<string, unknown>>;
  /** how many seeded people each system holds */
  counts: Record<string, number>;
  close(): Promise<void>;
}

export const SANDBOX_ID_OFFSET = 500_000;

/**
 * The sandbox's made-up credentials and ids, derived from the seed: the same `--seed`
 * prints the same ones every time, so a config and exports saved once keep working.
 */
function seeded(seed: number): (label: string, bytes?: number) => Buffer {
  return (label, bytes = 12) => {
    const out: Buffer[] = [];
    for (let i = 0; out.length * 32 < bytes; i++) out.push(createHash('sha256').update(`member-sync sandbox ${seed} ${label} ${i}`).digest());
    return Buffer.concat(out).subarray(0, bytes);
  };
}

/** An RFC 4122 version 4 UUID made of the given bytes. */
function uuidOf(b: Buffer): string {
  const x = Buffer.from(b.subarray(0, 16));
  x[6] = (x[6] & 0x0f) | 0x40;
  x[8] = (x[8] & 0x3f) | 0x80;
  const h = x.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Which systems hold person i: overlapping slices of the population. */
export function spread(i: number): { convio: boolean; community: boolean; vocdoni: boolean; ikanow: boolean; wevote: boolean } {
  const k = i % 10;
  return { convio: k < 6, community: k >= 3 && k < 7, vocdoni: k >= 5 && k < 9, ikanow: k === 0 || k === 1 || k === 9, wevote: k === 2 || k === 3 };
}

const upperEmail = (p: GeneratedPerson): MemberValues => ({ ...p, cons_id: undefined, member_id: undefined, email: p.email.toUpperCase() });

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const n = opts.people ?? 200;
  const seed = opts.seed ?? 1;
  const host = opts.host ?? '127.0.0.1';
  const port = (k: number) => (opts.port ? opts.port + k : 0);
  const buckets: Record<string, MemberValues[]> = { convio: [], community: [], vocdoni: [], ikanow: [], wevote: [] };
  for (let i = 0; i < n; i++) {
    // far from the ids examples/members.csv uses, so the demo does not mix the two
    const p = person(SANDBOX_ID_OFFSET + i, seed);
    const s = spread(i);
    if (s.convio) buckets.convio.push({ ...p, groups: ['1001'] });
    // the community knows people by email, written in another case, and no Convio ids
    if (s.community) buckets.community.push({ ...upperEmail(p), sex: p.sex, language: p.language });
    // Vocdoni's memberNumber is the member_id; phones and emails as Vocdoni keeps them
    if (s.vocdoni) buckets.vocdoni.push({ member_id: p.member_id, first_name: p.first_name, last_name: p.last_name, email: i % 3 === 0 ? undefined : p.email, phone: p.phone, birth_date: p.birth_date, weight: p.weight });
    if (s.ikanow) buckets.ikanow.push({ email: p.email.replace(/^./, (c) => c.toUpperCase()), first_name: p.first_name, last_name: p.last_name, phone: p.phone, city: p.city, country: p.country });
    if (s.wevote) buckets.wevote.push({ email: p.email, first_name: p.first_name, last_name: p.last_name });
  }
  const bytes = seeded(seed);
  const secret = (label: string) => bytes(label).toString('hex');
  const env: Record<string, string> = {
    SANDBOX_CONVIO_API_KEY: secret('CONVIO_API_KEY'),
    SANDBOX_CONVIO_LOGIN: 'sandbox-admin',
    SANDBOX_CONVIO_PASSWORD: secret('CONVIO_PASSWORD'),
    SANDBOX_IKANOW_API_KEY: secret('IKANOW_API_KEY'),
    SANDBOX_COMMUNITY_CONSUMER_KEY: secret('COMMUNITY_CONSUMER_KEY'),
    SANDBOX_COMMUNITY_CONSUMER_SECRET: secret('COMMUNITY_CONSUMER_SECRET'),
    SANDBOX_COMMUNITY_TOKEN: secret('COMMUNITY_TOKEN'),
    SANDBOX_COMMUNITY_TOKEN_SECRET: secret('COMMUNITY_TOKEN_SECRET'),
    SANDBOX_WEVOTE_API_KEY: secret('WEVOTE_API_KEY'),
    SANDBOX_WEVOTE_MANAGEMENT_KEY: secret('WEVOTE_MANAGEMENT_KEY'),
    // the shape of a real voter_device_id (newVoterDeviceId)
    SANDBOX_WEVOTE_DEVICE_ID: bytes('WEVOTE_DEVICE_ID', 66).toString('base64url'),
    SANDBOX_VOCDONI_TOKEN: `vsk_${secret('VOCDONI_TOKEN')}`,
  };
  const communityId = uuidOf(bytes('community id', 16));
  const orgAddress = `0x${bytes('vocdoni organization', 20).toString('hex')}`;
  const started: SimulatorHandle[] = [];
  const track = <T extends SimulatorHandle>(h: T): T => (started.push(h), h);
  try {
    const convio = track(await startConvioSimulator({ host, port: port(0), people: buckets.convio, apiKey: env.SANDBOX_CONVIO_API_KEY, loginName: env.SANDBOX_CONVIO_LOGIN, loginPassword: env.SANDBOX_CONVIO_PASSWORD, groupIds: [1001] }));
    const ikanow = track(await startIkanowSimulator({ host, port: port(1), people: buckets.ikanow, apiKey: env.SANDBOX_IKANOW_API_KEY }));
    const community = track(
      await startCommunitySimulator({
        host,
        port: port(2),
        people: buckets.community,
        consumerKey: env.SANDBOX_COMMUNITY_CONSUMER_KEY,
        consumerSecret: env.SANDBOX_COMMUNITY_CONSUMER_SECRET,
        token: env.SANDBOX_COMMUNITY_TOKEN,
        tokenSecret: env.SANDBOX_COMMUNITY_TOKEN_SECRET,
        communityShortName: 'members',
        communityId,
      }),
    );
    const wevote = track(await startWeVoteSimulator({ host, port: port(3), people: buckets.wevote, apiKey: env.SANDBOX_WEVOTE_API_KEY, managementApiKey: env.SANDBOX_WEVOTE_MANAGEMENT_KEY, deviceIds: [env.SANDBOX_WEVOTE_DEVICE_ID] }));
    const vocdoni = track(await startVocdoniSimulator({ host, port: port(4), people: buckets.vocdoni, token: env.SANDBOX_VOCDONI_TOKEN, orgAddress }));
    // simulators are local: no need to pace requests the way a real system wants
    const rateLimit = { perSecond: 0, concurrency: 8 };
    const connections = {
      'convio-sandbox': { kind: 'convio', rateLimit, baseUrl: convio.url, credentials: { apiKey: '${SANDBOX_CONVIO_API_KEY}', loginName: '${SANDBOX_CONVIO_LOGIN}', loginPassword: '${SANDBOX_CONVIO_PASSWORD}' }, trust: 10, options: { groupIds: [1001] } },
      'ikanow-sandbox': { kind: 'ikanow', rateLimit, baseUrl: ikanow.url, credentials: { apiKey: '${SANDBOX_IKANOW_API_KEY}' }, trust: 5 },
      'community-sandbox': {
        kind: 'community',
        rateLimit,
        baseUrl: community.url,
        credentials: { consumerKey: '${SANDBOX_COMMUNITY_CONSUMER_KEY}', consumerSecret: '${SANDBOX_COMMUNITY_CONSUMER_SECRET}', token: '${SANDBOX_COMMUNITY_TOKEN}', tokenSecret: '${SANDBOX_COMMUNITY_TOKEN_SECRET}' },
        trust: 5,
        options: { communityShortName: 'members', communityId },
      },
      'wevote-sandbox': { kind: 'wevote', rateLimit, baseUrl: wevote.url, credentials: { apiKey: '${SANDBOX_WEVOTE_API_KEY}', managementApiKey: '${SANDBOX_WEVOTE_MANAGEMENT_KEY}', voterDeviceId: '${SANDBOX_WEVOTE_DEVICE_ID}' }, options: { createAccount: true } },
      'vocdoni-sandbox': { kind: 'vocdoni', rateLimit, baseUrl: vocdoni.url, credentials: { token: '${SANDBOX_VOCDONI_TOKEN}' }, options: { organizationAddress: orgAddress, jobPollMs: 50 } },
    };
    return {
      simulators: { convio, ikanow, community, wevote, vocdoni },
      env,
      connections,
      counts: Object.fromEntries(Object.entries(buckets).map(([k, v]) => [k, v.length])),
      close: async () => {
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close().catch(() => undefined)));
    throw err;
  }
}

/** The config and environment a user pastes to point member-sync at the sandbox. */
export function sandboxInstructions(sb: Sandbox): string {
  const lines = ['# member-sync sandbox: simulators on loopback (Ctrl-C stops them)', ''];
  for (const [kind, h] of Object.entries(sb.simulators)) lines.push(`#   ${kind.padEnd(10)} ${h.url}  (${sb.counts[kind]} people)`);
  lines.push('', '# 1. export the sandbox credentials:');
  for (const [k, v] of Object.entries(sb.env)) lines.push(`export ${k}=${v}`);
  lines.push('', '# 2. save the rest as a config file, then: export MEMBER_SYNC_CONFIG=<that file>');
  lines.push(toYaml({ connections: sb.connections }).trimEnd());
  return lines.join('\n');
}
