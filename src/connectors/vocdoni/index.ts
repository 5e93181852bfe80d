/**
 * The `vocdoni` connector (Vocdoni SaaS backend, API-NOTES.md section 5).
 *
 * Pull walks `GET members` page by page; the cursor is the page to read next.
 *
 * Push keeps memberNumber unique even though bulk add is insert-only and answers with a
 * job rather than ids: a member with a remote id is upserted by `PUT`; one without is
 * looked up by memberNumber first (after any import job still running has finished) and
 * updated if found, else added with `POST members?async=true` and found again once the
 * job reports progress 100. A retried push therefore never adds a member twice.
 * Before the first push the organization's all-members group is found, or created.
 */
import { ConfigError, UpstreamError } from '../../errors.js';
import { paginatePages, sleep, type HttpClient, type NumberedPage } from '../../http/index.js';
import type { Connector, ConnectorContext, PullOptions, PullPage, PushItem, PushResult } from '../types.js';
import { optionsReader } from '../once-per.js';
import { VOCDONI_CREDENTIAL_KEYS, VocdoniApi, isPageNotFound, readJob, vocdoniClient, type CallOptions, type JobState } from './client.js';
import { fromOrgMember, toOrgMember } from './mapping.js';
import { vocdoniOptionsSchema, type GroupInfo, type OrgMember, type VocdoniCursor, type VocdoniOptions } from './types.js';

const optionsOf = optionsReader<VocdoniOptions>('vocdoni', vocdoniOptionsSchema);

/** What one connection remembers between pushes in this process. */
interface ConnectionMemo {
  group?: Promise<GroupInfo>;
  /** no import job of ours can still be running unseen */
  jobsSettled: boolean;
  legacyJobRouteMissing: { value: boolean };
}
const memos = new WeakMap<HttpClient, ConnectionMemo>();

function setup(ctx: ConnectorContext): { o: VocdoniOptions; api: VocdoniApi; memo: ConnectionMemo } {
  const o = optionsOf(ctx);
  const client = vocdoniClient(ctx);
  let memo = memos.get(client);
  if (!memo) memos.set(client, (memo = { jobsSettled: false, legacyJobRouteMissing: { value: false } }));
  return { o, api: new VocdoniApi(client, o.organizationAddress), memo };
}

async function* pull(ctx: ConnectorContext, opts: PullOptions): AsyncGenerator<PullPage> {
  const { o, api } = setup(ctx);
  const c = opts.cursor as VocdoniCursor | undefined;
  const startPage = c && typeof c.page === 'number' && c.page >= 1 ? Math.floor(c.page) : 1;
  const pages = paginatePages({
    startPage,
    pageSize: o.pageSize,
    fetchPage: async (page) => {
      const res = await api.listMembers({ page, limit: o.pageSize }, { signal: ctx.signal });
      return { items: res.members ?? [], lastPage: res.pagination?.lastPage };
    },
  });
  while (true) {
    let next: IteratorResult<NumberedPage<OrgMember>>;
    try {
      next = await pages.next();
    } catch (err) {
      // the list shrank under a resumed cursor: nothing is left to read
      if (isPageNotFound(err)) {
        yield { records: [], cursor: null satisfies VocdoniCursor };
        return;
      }
      throw err;
    }
    if (next.done) return;
    const { page, items, nextPage } = next.value;
    const records = items.map((m, k) => {
      const rec = fromOrgMember(m);
      rec.ref = { ...rec.ref, index: (page - 1) * o.pageSize + k + 1 };
      return rec;
    });
    const cursor: VocdoniCursor = nextPage === undefined ? null : { page: nextPage };
    yield { records, cursor };
  }
}

/** Every member whose memberNumber is exactly this one (search is a regex over many fields). */
async function findByMemberNumber(api: VocdoniApi, memberNumber: string, call: CallOptions): Promise<OrgMember[]> {
  const search = `^${memberNumber.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}$`;
  const found: OrgMember[] = [];
  for await (const page of paginatePages({
    pageSize: 100,
    fetchPage: async (p) => {
      const res = await api.listMembers({ page: p, limit: 100, search }, call);
      return { items: res.members ?? [], lastPage: res.pagination?.lastPage };
    },
  })) {
    found.push(...page.items.filter((m) => m.memberNumber === memberNumber));
  }
  return found;
}

async function waitForJob(api: VocdoniApi, memo: ConnectionMemo, o: VocdoniOptions, jobId: string, call: CallOptions): Promise<JobState> {
  const deadline = Date.now() + o.jobTimeoutMs;
  for (;;) {
    const job = readJob(await api.getJob(jobId, memo.legacyJobRouteMissing, call));
    if (job.done) return job;
    if (Date.now() > deadline) {
      throw new UpstreamError({ connection: api.client.connection, kind: 'server', message: `import job ${jobId} still at ${job.progress}% after ${o.jobTimeoutMs} ms` });
    }
    await sleep(o.jobPollMs, call.signal);
  }
}

/**
 * Wait out import jobs still running (ours from a push whose answer was lost, or a
 * previous process's), so the memberNumber lookup sees what they add. The job list is
 * a convenience: if the backend does not offer it, we carry on.
 */
async function settleJobs(ctx: ConnectorContext, api: VocdoniApi, memo: ConnectionMemo, o: VocdoniOptions, call: CallOptions): Promise<void> {
  if (memo.jobsSettled) return;
  try {
    const res = await api.listJobs({ page: 1, limit: 100 }, call);
    const jobs = Array.isArray(res) ? res : (res.jobs ?? []);
    for (const job of jobs) if (job.jobId && !readJob(job).done) await waitForJob(api, memo, o, job.jobId, call);
  } catch (err) {
    if (!(err instanceof UpstreamError) || ['auth', 'rate_limited', 'server', 'network'].includes(err.kind)) throw err;
    ctx.log.debug({ connection: ctx.name, err: err.message }, 'vocdoni job list unavailable; not waiting for running imports');
  }
  memo.jobsSettled = true;
}

/** The auto "All members" group, or the one we titled so, or a new one. */
function allMembersGroup(api: VocdoniApi, memo: ConnectionMemo, o: VocdoniOptions, call: CallOptions): Promise<GroupInfo> {
  memo.group ??= (async () => {
    const groups: GroupInfo[] = [];
    for await (const page of paginatePages({
      pageSize: 100,
      fetchPage: async (p) => {
        const res = await api.listGroups({ page: p, limit: 100 }, call);
        return { items: res.groups ?? [], lastPage: res.pagination?.lastPage };
      },
    })) {
      groups.push(...page.items);
    }
    const found = groups.find((g) => g.isAutoGroup) ?? groups.find((g) => g.title === o.allMembersGroupTitle);
    return found ?? api.createGroup({ title: o.allMembersGroupTitle, description: 'Every member (kept by member-sync)', includeAllMembers: true }, call);
  })();
  memo.group.catch(() => (memo.group = undefined));
  return memo.group;
}

/** Bulk-add one member and return its new id. */
async function addOne(ctx: ConnectorContext, api: VocdoniApi, memo: ConnectionMemo, o: VocdoniOptions, member: OrgMember, call: CallOptions): Promise<string> {
  let errors: string[] = [];
  try {
    const res = await api.addMembers([member], call);
    if (res.jobId) errors = (await waitForJob(api, memo, o, res.jobId, call)).errors;
    else errors = res.errors ?? [];
  } catch (err) {
    // the job may be running although we never heard of it
    memo.jobsSettled = false;
    throw err;
  }
  const [added] = await findByMemberNumber(api, member.memberNumber!, call);
  if (!added) {
    throw new UpstreamError({ connection: api.client.connection, kind: 'validation', message: `member ${member.memberNumber} was not added: ${errors.join('; ') || 'no reason given'}` });
  }
  // invalid fields are blanked by the backend rather than refused
  if (errors.length > 0) ctx.log.warn({ connection: ctx.name, memberNumber: member.memberNumber, errors }, 'vocdoni blanked invalid fields');
  return added.id!;
}

async function push(ctx: ConnectorContext, item: PushItem): Promise<PushResult> {
  const { o, api, memo } = setup(ctx);
  const member = item.payload as OrgMember;
  if (typeof member.memberNumber !== 'string' || member.memberNumber === '') {
    return { success: true, action: 'skipped', reason: 'no member_id', requests: 0 };
  }
  const counter = { requests: 0 };
  const call = { counter, signal: ctx.signal };
  try {
    const group = await allMembersGroup(api, memo, o, call);
    let id = item.remoteId;
    let action: 'created' | 'updated' = 'updated';
    if (id) {
      const res = await api.upsertMember({ ...member, id }, call);
      // an id the backend no longer knows makes PUT create a new member
      if (res.id !== id) action = 'created';
      id = res.id;
    } else {
      await settleJobs(ctx, api, memo, o, call);
      const [existing] = await findByMemberNumber(api, member.memberNumber, call);
      if (existing?.id) {
        id = (await api.upsertMember({ ...member, id: existing.id }, call)).id;
      } else {
        id = await addOne(ctx, api, memo, o, member, call);
        action = 'created';
      }
    }
    if (action === 'created' && !group.isAutoGroup) await api.addToGroup(group.id, [id], call);
    return { success: true, action, remoteId: id, requests: counter.requests };
  } catch (err) {
    return { success: false, error: err instanceof Error ? err : new Error(String(err)), requests: counter.requests };
  }
}

/** Delete members by their Vocdoni ids (unknown ids are ignored by the backend). */
export async function removeVocdoniMembers(ctx: ConnectorContext, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { api } = setup(ctx);
  return (await api.deleteMembers(ids, { signal: ctx.signal })).count;
}

export const vocdoniConnector: Connector<VocdoniOptions> = {
  kind: 'vocdoni',
  optionsSchema: vocdoniOptionsSchema,
  credentialKeys: VOCDONI_CREDENTIAL_KEYS,
  async check(ctx) {
    const { api } = setup(ctx);
    await api.listMembers({ page: 1, limit: 1 }, { signal: ctx.signal });
  },
  pull,
  toRemote: (member) => toOrgMember(member) as Record<string, unknown>,
  push,
};
