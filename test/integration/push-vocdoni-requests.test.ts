/**
 * A Vocdoni push sends only what it must: ≤ 1.2 requests per changed member, counted at
 * the simulator (the organization's list read once, new people in one bulk add per batch,
 * one PUT per update), with memberNumber kept unique and new members in the group.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVocdoniSimulator } from '../../src/connectors/vocdoni/simulator.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { configWith, importCsv, peopleCsv, pushWith } from './push-setup.js';

let db: TestDb;
let sim: Awaited<ReturnType<typeof startVocdoniSimulator>>;
let push: ReturnType<typeof pushWith>;
let config: ReturnType<typeof configWith>;
const N = 180;

beforeAll(async () => {
  db = await createTestDb();
  // 30 of the 180 are in the organization already (not linked), plus 20 others
  const people = [
    ...Array.from({ length: 30 }, (_, i) => ({ member_id: `P-${i + 1}`, first_name: 'Old', email: `p${i + 1}@example.org` })),
    ...Array.from({ length: 20 }, (_, i) => ({ member_id: `X-${i + 1}`, first_name: 'Other' })),
  ];
  sim = await startVocdoniSimulator({ autoGroup: false, jobDurationMs: 30, people });
  config = configWith({
    'vocdoni-n': { kind: 'vocdoni', baseUrl: sim.url, credentials: { token: 'sim-vocdoni-token' }, rateLimit: { perSecond: 0, concurrency: 4 }, options: { organizationAddress: sim.state.orgAddress, jobPollMs: 20 } },
  });
  push = pushWith(db, config);
});
afterAll(async () => {
  await sim?.close();
  await db?.drop();
});

const numbers = () => [...sim.state.members.values()].map((m) => m.memberNumber);

describe('vocdoni push: requests per changed member', () => {
  it(`${N} changes (30 found unlinked, 150 new) in ≤ 1.2 requests each; the group holds them; memberNumbers unique`, async () => {
    await importCsv(db, config, peopleCsv(N));
    const before = sim.requests.total;
    const s = await push('vocdoni-n');
    const requests = sim.requests.total - before;
    expect(s).toMatchObject({ selected: N, created: 150, updated: 30, failed: 0 });
    expect(s.requests).toBe(requests);
    expect(requests).toBeLessThanOrEqual(1.2 * N);
    const all = numbers();
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(200);
    const group = [...sim.state.groups.values()].find((g) => g.title === 'All members')!;
    for (const m of sim.state.members.values()) if (m.memberNumber.startsWith('P-')) expect(group.memberIds.has(m.id)).toBe(true);
    expect(sim.state.members.size).toBe(200);
    expect([...sim.state.members.values()].find((m) => m.memberNumber === 'P-1')).toMatchObject({ name: 'First1', surname: 'Last1' });
  });

  it(`${N} updates of linked members: one PUT each and nothing else`, async () => {
    await importCsv(db, config, peopleCsv(N, 1, () => 'Paris').replace(/Last(\d+)/g, 'Renamed$1'));
    const before = { ...sim.requests.byRoute };
    const total = sim.requests.total;
    const s = await push('vocdoni-n');
    expect(s).toMatchObject({ selected: N, updated: N, created: 0, failed: 0 });
    expect(sim.requests.total - total).toBe(N);
    expect((sim.requests.byRoute['PUT /organizations/{address}/members'] ?? 0) - (before['PUT /organizations/{address}/members'] ?? 0)).toBe(N);
    expect([...sim.state.members.values()].find((m) => m.memberNumber === 'P-7')?.surname).toBe('Renamed7');
    expect(await push('vocdoni-n')).toMatchObject({ selected: 0, requests: 0 });
  });
});
