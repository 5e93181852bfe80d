/**
 * A loopback Vocdoni SaaS backend for members, groups and jobs (API-NOTES.md section 5):
 * Bearer auth, `{error,code,data}` errors sent as text/plain, page-numbered lists that
 * refuse a page past the last, insert-only bulk add (sync, or an async job with
 * progress), upsert by id, delete by ids, an undeletable auto "All members" group, and
 * masked phones. Both job routes are served: the current `/jobs/{id}` and the one-page
 * doc's `/organizations/{a}/members/job/{id}` (turn the latter off to see a 404).
 *
 * Inferred, not documented: the answer shape of `GET /jobs?orgAddress=` (here
 * `{pagination, jobs:[<job answer>]}`), and the exact texts of validation error lines.
 * `state.dropNextAddResponse` is a test hook (an add accepted whose answer is lost), not
 * an API.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { send, startSimServer, type SimRequest } from '../../http/index.js';
import type { MemberValues } from '../../types.js';
import type { SimulatorHandle, SimulatorOptions } from '../types.js';
import {
  advanceJobs,
  compareMembers,
  deleteMember,
  groupView,
  insertMember,
  jobProgress,
  jobView,
  memberView,
  newGroup,
  readMember,
  searchMatcher,
  type VocdoniSimState,
} from './sim-store.js';
import type { OrgMember, Pagination } from './types.js';

export type { SimGroup, SimJob, SimMember, VocdoniSimState } from './sim-store.js';

export interface VocdoniSimulatorOptions extends SimulatorOptions {
  people?: MemberValues[];
  /** the Bearer token (a JWT or a `vsk_` API key) @defaultValue 'sim-vocdoni-token' */
  token?: string;
  /** @defaultValue a random 0x address */
  orgAddress?: string;
  /** @defaultValue 50 */
  jobDurationMs?: number;
  memberLimit?: number;
  /** the organization has its auto "All members" group @defaultValue true */
  autoGroup?: boolean;
  /** serve `/organizations/{a}/members/job/{id}` @defaultValue true */
  legacyJobRoute?: boolean;
}

const TEXT = 'text/plain; charset=utf-8';

function sendError(res: ServerResponse, status: number, code: number, error: string, data?: unknown): void {
  send(res, status, `${JSON.stringify({ error, code, ...(data !== undefined ? { data } : {}) })}\n`, TEXT);
}
const ok = (res: ServerResponse, body?: unknown): void => send(res, 200, body === undefined ? '\n' : JSON.stringify(body));
const notFound = (res: ServerResponse): void => send(res, 404, '404 page not found\n', TEXT);
const badJson = (res: ServerResponse): void => sendError(res, 400, 40004, 'invalid JSON request body');
const invalidData = (res: ServerResponse, detail: string, data?: unknown): void => sendError(res, 400, 40037, `invalid data provided: ${detail}`, data);

function paginate<T>(items: T[], q: URLSearchParams): { pagination: Pagination; slice: T[] } | { error: string } {
  const rawLimit = q.get('limit');
  const rawPage = q.get('page');
  if ((rawLimit && !/^-?\d+$/.test(rawLimit)) || (rawPage && !/^\d+$/.test(rawPage))) return { error: 'invalid URL parameter: page or limit' };
  let limit = rawLimit ? Number(rawLimit) : 10;
  if (limit <= 0) limit = 10;
  limit = Math.min(limit, 100);
  const page = rawPage ? Number(rawPage) : 1;
  const lastPage = Math.max(1, Math.ceil(items.length / limit));
  if (page < 1 || page > lastPage) return { error: 'invalid URL parameter: page not found' };
  return {
    pagination: {
      totalItems: items.length,
      previousPage: page > 1 ? page - 1 : null,
      currentPage: page,
      nextPage: page < lastPage ? page + 1 : null,
      lastPage,
    },
    slice: items.slice((page - 1) * limit, page * limit),
  };
}

export async function startVocdoniSimulator(opts: VocdoniSimulatorOptions = {}): Promise<SimulatorHandle & { state: VocdoniSimState }> {
  const state: VocdoniSimState = {
    orgAddress: (opts.orgAddress ?? `0x${randomBytes(20).toString('hex')}`).toLowerCase(),
    token: opts.token ?? 'sim-vocdoni-token',
    members: new Map(),
    groups: new Map(),
    jobs: new Map(),
    jobDurationMs: opts.jobDurationMs ?? 50,
    memberLimit: opts.memberLimit,
    signedMemberIds: new Set(),
    legacyJobRoute: opts.legacyJobRoute ?? true,
    dropNextAddResponse: false,
    phoneSalt: randomBytes(8).toString('hex'),
  };
  if (opts.autoGroup ?? true) {
    const g = newGroup('All members', 'Every member of the organization', true, []);
    state.groups.set(g.id, g);
  }
  opts.people?.forEach((p, i) => {
    const row = { memberNumber: p.member_id ?? '', name: p.first_name ?? '', surname: p.last_name ?? '', email: p.email ?? '', phone: p.phone ?? '' };
    const { fields } = readMember({ ...row, nationalId: p.national_id ?? '', birthDate: p.birth_date ?? '', weight: String(p.weight ?? 1) }, i + 1);
    insertMember(state, fields);
  });

  const authorized = (req: SimRequest): boolean => req.headers.authorization === `Bearer ${state.token}`;

  function handle(req: SimRequest, res: ServerResponse): void {
    advanceJobs(state);
    const parts = req.path.split('/').filter(Boolean);
    const q = req.url.searchParams;
    if (parts[0] === 'jobs') return jobs(req, res, parts, q);
    if (parts[0] !== 'organizations' || parts.length < 3) return notFound(res);
    if (!authorized(req)) return sendError(res, 401, 40001, 'authentication required');
    if (parts[1].toLowerCase() !== state.orgAddress) return sendError(res, 400, 40011, 'organization address is required');
    const [, , area, id, sub, subId] = parts;
    if (area === 'members' && id === undefined) return members(req, res, q);
    if (area === 'members' && id === 'job' && sub && !subId) return legacyJob(res, sub);
    if (area === 'groups') return groups(req, res, q, id, sub);
    return notFound(res);
  }

  function jobs(req: SimRequest, res: ServerResponse, parts: string[], q: URLSearchParams): void {
    if (req.method !== 'GET' || parts.length > 2) return notFound(res);
    if (parts.length === 2) {
      const job = state.jobs.get(parts[1]);
      if (!job) return sendError(res, 404, 40026, 'job not found');
      return ok(res, jobView(job, authorized(req)));
    }
    if (!authorized(req)) return sendError(res, 401, 40001, 'authentication required');
    if ((q.get('orgAddress') ?? '').toLowerCase() !== state.orgAddress) return sendError(res, 400, 40011, 'organization address is required');
    const type = q.get('type');
    const list = [...state.jobs.values()].filter(() => !type || type === 'org_members').reverse();
    const page = paginate(list, q);
    if ('error' in page) return sendError(res, 400, 40010, page.error);
    return ok(res, { pagination: page.pagination, jobs: page.slice.map((j) => jobView(j, true)) });
  }

  function legacyJob(res: ServerResponse, jobId: string): void {
    if (!state.legacyJobRoute) return notFound(res);
    const job = state.jobs.get(jobId);
    if (!job) return sendError(res, 404, 40026, 'job not found');
    return ok(res, { added: job.added, total: job.rows.length, progress: jobProgress(job), errors: job.errors });
  }

  function listMembers(res: ServerResponse, q: URLSearchParams, only?: Set<string>): void {
    const match = searchMatcher(q.get('search') ?? '');
    if (!match) return sendError(res, 400, 40010, 'invalid URL parameter: search');
    const all = [...state.members.values()].filter((m) => (!only || only.has(m.id)) && match(m)).sort(compareMembers);
    const page = paginate(all, q);
    if ('error' in page) return sendError(res, 400, 40010, page.error);
    return ok(res, { pagination: page.pagination, members: page.slice.map((m) => memberView(state, m)) });
  }

  function members(req: SimRequest, res: ServerResponse, q: URLSearchParams): void {
    const body = req.json as Record<string, unknown> | undefined;
    switch (req.method) {
      case 'GET':
        return listMembers(res, q);
      case 'POST': {
        if (!body || !Array.isArray(body.members)) return badJson(res);
        const rows = body.members as OrgMember[];
        if (rows.length === 0) return ok(res, { added: 0, errors: null });
        if (state.memberLimit !== undefined && state.members.size + rows.length > state.memberLimit) {
          return sendError(res, 401, 40145, 'operation would exceed organization members limit');
        }
        let answer: unknown;
        if (q.get('async') === 'true') {
          const jobId = randomBytes(16).toString('hex');
          state.jobs.set(jobId, { jobId, rows, done: 0, added: 0, errors: [], createdAt: Date.now() });
          advanceJobs(state);
          answer = { added: 0, errors: null, jobId };
        } else {
          const errors: string[] = [];
          rows.forEach((row, i) => {
            const read = readMember(row as OrgMember & Record<string, unknown>, i + 1);
            insertMember(state, read.fields);
            errors.push(...read.errors);
          });
          answer = { added: rows.length, errors: errors.length > 0 ? errors : null };
        }
        if (state.dropNextAddResponse) {
          state.dropNextAddResponse = false;
          res.destroy();
          return;
        }
        return ok(res, answer);
      }
      case 'PUT':
        return upsert(res, body);
      case 'DELETE': {
        if (!body || (!Array.isArray(body.ids) && body.all !== true)) return badJson(res);
        const ids = body.all === true ? [...state.members.keys()] : (body.ids as unknown[]).filter((x): x is string => typeof x === 'string');
        const signed = ids.filter((id) => state.signedMemberIds.has(id));
        if (signed.length > 0) {
          return sendError(res, 409, 40173, 'member has already been signed for in an ongoing process', { signedMemberIds: signed });
        }
        let count = 0;
        for (const id of ids) {
          if (!state.members.has(id)) continue;
          deleteMember(state, id);
          count++;
        }
        return ok(res, { count });
      }
      default:
        return notFound(res);
    }
  }

  function upsert(res: ServerResponse, body: Record<string, unknown> | undefined): void {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return badJson(res);
    const { fields, errors } = readMember(body as OrgMember & Record<string, unknown>, 1);
    // the backend's quirk: a validation error on PUT surfaces as a server error
    if (errors.length > 0) return sendError(res, 500, 50002, `server error: operation failed: could not upsert org member: errors: ${errors.join('; ')}`);
    const existing = typeof body.id === 'string' ? state.members.get(body.id) : undefined;
    if (!existing) return ok(res, { id: insertMember(state, fields).id });
    if (fields.memberNumber && [...state.members.values()].some((m) => m.id !== existing.id && m.memberNumber === fields.memberNumber)) {
      return invalidData(res, 'update would create duplicates');
    }
    const keep = ['memberNumber', 'name', 'surname', 'nationalId', 'birthDate', 'email', 'phone'] as const;
    // empty login fields keep what is stored; weight always overwrites
    for (const k of keep) if (fields[k]) existing[k] = fields[k];
    existing.weight = fields.weight;
    if (body.other !== undefined) existing.other = fields.other;
    return ok(res, { id: existing.id });
  }

  function groups(req: SimRequest, res: ServerResponse, q: URLSearchParams, groupId: string | undefined, sub: string | undefined): void {
    const body = req.json as Record<string, unknown> | undefined;
    if (groupId === undefined) {
      if (req.method === 'GET') {
        const page = paginate([...state.groups.values()], q);
        if ('error' in page) return sendError(res, 400, 40010, page.error);
        return ok(res, { pagination: page.pagination, groups: page.slice.map((g) => groupView(g, false)) });
      }
      if (req.method !== 'POST') return notFound(res);
      if (!body || typeof body.title !== 'string') return badJson(res);
      const ids = body.includeAllMembers === true ? [...state.members.keys()] : Array.isArray(body.memberIds) ? (body.memberIds as string[]) : [];
      const g = newGroup(body.title, typeof body.description === 'string' ? body.description : '', false, ids.filter((id) => state.members.has(id)));
      state.groups.set(g.id, g);
      return ok(res, groupView(g, false));
    }
    const group = state.groups.get(groupId);
    if (!group) return invalidData(res, 'group not found');
    if (sub === 'members' && req.method === 'GET') return listMembers(res, q, group.memberIds);
    if (sub !== undefined) return notFound(res);
    switch (req.method) {
      case 'GET':
        return ok(res, groupView(group, true));
      case 'PUT': {
        if (!body) return badJson(res);
        if (group.isAutoGroup) return sendError(res, 403, 40151, 'auto group membership cannot be modified');
        if (typeof body.title === 'string' && body.title) group.title = body.title;
        if (typeof body.description === 'string') group.description = body.description;
        for (const id of (body.addMembers as string[] | undefined) ?? []) if (state.members.has(id)) group.memberIds.add(id);
        for (const id of (body.removeMembers as string[] | undefined) ?? []) group.memberIds.delete(id);
        group.updatedAt = new Date().toISOString();
        return ok(res);
      }
      case 'DELETE':
        if (group.isAutoGroup) return sendError(res, 403, 40150, 'auto group cannot be deleted');
        state.groups.delete(group.id);
        return ok(res);
      default:
        return notFound(res);
    }
  }

  const routeKey = (req: SimRequest): string => {
    const path = req.path
      .split('/')
      .map((seg) => (seg.toLowerCase() === state.orgAddress ? '{address}' : /^[0-9a-f]{24}$|^[0-9a-f]{32}$/.test(seg) ? '{id}' : seg))
      .join('/');
    return `${req.method} ${path}`;
  };
  const server = await startSimServer({ host: opts.host, port: opts.port, faults: opts.faults, routeKey, handle });
  return { url: server.url, requests: server.requests, setFaults: (f) => server.setFaults(f), close: () => server.close(), state };
}
