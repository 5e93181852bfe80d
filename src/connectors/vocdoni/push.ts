/**
 * Vocdoni push. Bulk add is insert-only and answers with a job rather than ids, so
 * memberNumber is kept unique by looking people up before adding them:
 *
 * - `prepareBatch` (a batch of selected members at a time): members without a remote id
 *   are looked up by memberNumber — in the organization's list, read once per push (page
 *   by page), or, when the list is much longer than the lookups the batch needs, by a
 *   search for just those numbers. Found ones go on to `push` as updates (one `PUT`
 *   each); the others are added in one `POST members?async=true`, whose job is polled to
 *   progress 100 and whose new ids are found by one search. An add whose answer was lost
 *   is waited for (running jobs) and looked up before it is sent again, so no member is
 *   added twice. New members join the all-members group (one `PUT` per batch, unless the
 *   organization's auto group already holds everyone).
 * - `push` (one member): `PUT` by remote id; without one (a caller that skips the bulk
 *   step) the single-member path: look up, then update or add.
 *
 * A push of N changed members thus costs N `PUT`s for updates and a handful of requests
 * per batch of new members, plus the list read.
 */
import { UpstreamError, isRetryable } from '../../errors.js';
import { paginatePages, sleep, type HttpClient } from '../../http/index.js';
import type { ConnectorContext, PreparedBatch, PreparedItem, PushItem, PushResult } from '../types.js';
import { oncePer, optionsReader } from '../once-per.js';
import { VocdoniApi, readJob, vocdoniClient, type CallOptions, type JobState } from './client.js';
import { vocdoniOptionsSchema, type GroupInfo, type OrgMember, type VocdoniOptions } from './types.js';

export const optionsOf = optionsReader<VocdoniOptions>('vocdoni', vocdoniOptionsSchema);

/** What one connection remembers between pushes in this process. */
interface ConnectionMemo {
  group?: Promise<GroupInfo>;
  /** no import job of ours can still be running unseen */
  jobsSettled: boolean;
  legacyJobRouteMissing: { value: boolean };
}
const memos = new WeakMap<HttpClient, ConnectionMemo>();

export function setup(ctx: ConnectorContext): { o: VocdoniOptions; api: VocdoniApi; memo: ConnectionMemo } {
  const o = optionsOf(ctx);
  const client = vocdoniClient(ctx);
  let memo = memos.get(client);
  if (!memo) memos.set(client, (memo = { jobsSettled: false, legacyJobRouteMissing: { value: false } }));
  return { o, api: new VocdoniApi(client, o.organizationAddress), memo };
}

const LIST_LIMIT = 100;
/** memberNumbers per search: a regex alternation in the query string */
const SEARCH_CHUNK = 50;

/** What one push knows of the organization: memberNumber -> id, and the group's members. */
interface PushIndex {
  byNumber: Map<string, string>;
  /** every page of the list was read: a number not in byNumber is not there */
  complete: boolean;
  /** pages of the list, known after the first one was read */
  lastPage?: number;
  /** members of a non-auto all-members group, read once when first needed */
  groupMembers?: Set<string>;
}
const pushIndexOf = oncePer<ConnectorContext, PushIndex>(() => ({ byNumber: new Map(), complete: false }));

const escapeRegex = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

async function listPage(api: VocdoniApi, page: number, call: CallOptions, search?: string) {
  const res = await api.listMembers({ page, limit: LIST_LIMIT, ...(search ? { search } : {}) }, call);
  return { items: res.members ?? [], lastPage: res.pagination?.lastPage };
}

/** memberNumber -> id for exactly these numbers (search is a regex over many fields). */
async function searchNumbers(api: VocdoniApi, numbers: string[], call: CallOptions): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (let i = 0; i < numbers.length; i += SEARCH_CHUNK) {
    const chunk = numbers.slice(i, i + SEARCH_CHUNK);
    const wanted = new Set(chunk);
    const search = `^(${chunk.map(escapeRegex).join('|')})$`;
    for await (const page of paginatePages({ pageSize: LIST_LIMIT, fetchPage: (p) => listPage(api, p, call, search) })) {
      for (const m of page.items) if (m.id && m.memberNumber && wanted.has(m.memberNumber) && !found.has(m.memberNumber)) found.set(m.memberNumber, m.id);
    }
  }
  return found;
}

/**
 * Learn the ids of `numbers` into the push's index: from the whole list (read once per
 * push, the first page first), or by a search when that costs fewer requests than the
 * pages still unread.
 */
async function lookUp(index: PushIndex, api: VocdoniApi, numbers: string[], call: CallOptions): Promise<void> {
  const learn = (items: OrgMember[]) => {
    for (const m of items) if (m.id && m.memberNumber && !index.byNumber.has(m.memberNumber)) index.byNumber.set(m.memberNumber, m.id);
  };
  if (index.complete || numbers.length === 0) return;
  if (index.lastPage === undefined) {
    const first = await listPage(api, 1, call);
    learn(first.items);
    index.lastPage = first.lastPage ?? 1;
    if (index.lastPage <= 1) {
      index.complete = true;
      return;
    }
  }
  const unknown = numbers.filter((n) => !index.byNumber.has(n));
  if (unknown.length === 0) return;
  if (Math.ceil(unknown.length / SEARCH_CHUNK) < index.lastPage - 1) {
    for (const [n, id] of await searchNumbers(api, unknown, call)) index.byNumber.set(n, id);
    return;
  }
  for await (const page of paginatePages({ startPage: 2, pageSize: LIST_LIMIT, fetchPage: (p) => listPage(api, p, call) })) learn(page.items);
  index.complete = true;
}

async function waitForJob(api: VocdoniApi, memo: ConnectionMemo, o: VocdoniOptions, jobId: string, call: CallOptions, justStarted = false): Promise<JobState> {
  const deadline = Date.now() + o.jobTimeoutMs;
  // a job that has just started is not done yet: asking at once would only cost a request
  if (justStarted) await sleep(o.jobPollMs, call.signal);
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

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * Bulk-add members (one async POST, its job polled, one search for the new ids). An add
 * that failed in a way that may have reached the backend (a lost answer, a 5xx) is looked
 * up after running jobs settle, and only the people still missing are sent again (at most
 * three POSTs). Returns memberNumber -> new id, or the error that kept each one out.
 */
async function bulkAdd(ctx: ConnectorContext, members: OrgMember[], call: CallOptions): Promise<Map<string, string | Error>> {
  const { o, api, memo } = setup(ctx);
  const out = new Map<string, string | Error>();
  let todo = members;
  for (let attempt = 1; todo.length > 0; attempt++) {
    let failure: Error | undefined;
    let lines: string[] = [];
    try {
      const res = await api.addMembers(todo, call);
      lines = res.jobId ? (await waitForJob(api, memo, o, res.jobId, call, true)).errors : (res.errors ?? []);
    } catch (err) {
      // the job may be running although we never heard of it
      memo.jobsSettled = false;
      failure = asError(err);
      if (!isRetryable(err)) {
        for (const m of todo) out.set(m.memberNumber!, failure);
        return out;
      }
      await settleJobs(ctx, api, memo, o, call);
    }
    const found = await searchNumbers(
      api,
      todo.map((m) => m.memberNumber!),
      call,
    );
    for (const [n, id] of found) out.set(n, id);
    // invalid fields are blanked by the backend rather than refused
    if (lines.length > 0) ctx.log.warn({ connection: ctx.name, errors: lines.slice(0, 20) }, 'vocdoni blanked invalid fields');
    todo = todo.filter((m) => !found.has(m.memberNumber!));
    if (!failure || attempt >= 3) {
      const why = failure ?? new UpstreamError({ connection: api.client.connection, kind: 'validation', message: `not added by the import job: ${lines.join('; ') || 'no reason given'}` });
      for (const m of todo) out.set(m.memberNumber!, why);
      return out;
    }
  }
  return out;
}

/** Ids (new or found) that a non-auto all-members group does not hold yet. */
async function notInGroup(index: PushIndex, api: VocdoniApi, group: GroupInfo, ids: string[], call: CallOptions): Promise<string[]> {
  if (group.isAutoGroup || ids.length === 0) return [];
  index.groupMembers ??= new Set((await api.getGroup(group.id, call)).memberIds ?? []);
  return ids.filter((id) => !index.groupMembers!.has(id));
}

export async function prepareBatch(ctx: ConnectorContext, items: PushItem[]): Promise<PreparedBatch> {
  const { o, api, memo } = setup(ctx);
  const index = pushIndexOf(ctx);
  const counter = { requests: 0 };
  const call = { counter, signal: ctx.signal };
  const out: PreparedItem[] = new Array<PreparedItem>(items.length);
  const number = (item: PushItem) => (item.payload as OrgMember).memberNumber;
  const unlinked = items.flatMap((item, i) => (!item.remoteId && number(item) ? [i] : []));
  items.forEach((item, i) => {
    if (!number(item)) out[i] = { done: { success: true, action: 'skipped', reason: 'no member_id', requests: 0 } };
    else if (item.remoteId) out[i] = { send: item };
  });
  if (unlinked.length === 0) return { items: out, requests: 0 };
  try {
    const group = await allMembersGroup(api, memo, o, call);
    await settleJobs(ctx, api, memo, o, call);
    await lookUp(
      index,
      api,
      unlinked.map((i) => number(items[i])!),
      call,
    );
    const creates: number[] = [];
    const grouped: string[] = [];
    for (const i of unlinked) {
      const id = index.byNumber.get(number(items[i])!);
      if (id) {
        out[i] = { send: { ...items[i], remoteId: id } };
        grouped.push(id);
      } else creates.push(i);
    }
    if (creates.length > 0) {
      const added = await bulkAdd(
        ctx,
        creates.map((i) => items[i].payload as OrgMember),
        call,
      );
      for (const i of creates) {
        const r = added.get(number(items[i])!);
        if (typeof r === 'string') {
          index.byNumber.set(number(items[i])!, r);
          grouped.push(r);
          out[i] = { done: { success: true, action: 'created', remoteId: r, requests: 0 } };
        } else {
          out[i] = { done: { success: false, error: r ?? new Error('not added'), requests: 0 } };
        }
      }
    }
    const join = await notInGroup(index, api, group, grouped, call);
    if (join.length > 0) {
      await api.addToGroup(group.id, join, call);
      for (const id of join) index.groupMembers?.add(id);
    }
  } catch (err) {
    // a lookup, the group or the job poll failed: every member not settled yet fails alike
    const error = asError(err);
    for (const i of unlinked) if (!out[i] || 'send' in out[i]) out[i] = { done: { success: false, error, requests: 0 } };
  }
  return { items: out, requests: counter.requests };
}

/** The single-member path: every member that has no id there is looked up first. */
async function findByNumber(api: VocdoniApi, memberNumber: string, call: CallOptions): Promise<string | undefined> {
  return (await searchNumbers(api, [memberNumber], call)).get(memberNumber);
}

export async function push(ctx: ConnectorContext, item: PushItem): Promise<PushResult> {
  const { o, api, memo } = setup(ctx);
  const member = item.payload as OrgMember;
  if (typeof member.memberNumber !== 'string' || member.memberNumber === '') {
    return { success: true, action: 'skipped', reason: 'no member_id', requests: 0 };
  }
  const counter = { requests: 0 };
  const call = { counter, signal: ctx.signal };
  try {
    let id = item.remoteId;
    let action: 'created' | 'updated' = 'updated';
    if (!id) {
      await settleJobs(ctx, api, memo, o, call);
      id = await findByNumber(api, member.memberNumber, call);
    }
    if (id) {
      const res = await api.upsertMember({ ...member, id }, call);
      // an id the backend no longer knows makes PUT create a new member
      if (res.id !== id) action = 'created';
      id = res.id;
    } else {
      const r = (await bulkAdd(ctx, [member], call)).get(member.memberNumber);
      if (typeof r !== 'string') throw r ?? new Error('not added');
      id = r;
      action = 'created';
    }
    if (action === 'created') {
      const group = await allMembersGroup(api, memo, o, call);
      if (!group.isAutoGroup) await api.addToGroup(group.id, [id], call);
    }
    return { success: true, action, remoteId: id, requests: counter.requests };
  } catch (err) {
    return { success: false, error: asError(err), requests: counter.requests };
  }
}
