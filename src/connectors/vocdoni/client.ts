/**
 * The Vocdoni client: Bearer auth, and errors that are JSON `{error, code, data}` sent
 * as text/plain (API-NOTES.md section 5). The numeric code decides the kind, not the
 * HTTP status: a plan quota answers 401 but is no auth problem, and a validation error
 * on PUT answers 500 but will fail the same way every time.
 */
import { ConfigError, type UpstreamError, type UpstreamKind } from '../../errors.js';
import { clientForConnection, notTheFormat, type DecodedError, type HttpClient, type HttpRequestOptions, type RawResponse, type RequestCounter } from '../../http/index.js';
import { registerSecret } from '../../log.js';
import type { ConnectorContext } from '../types.js';
import type {
  AddMembersResponse,
  DeleteMembersResponse,
  GroupInfo,
  GroupsPage,
  JobResponse,
  LegacyJobResponse,
  MembersPage,
  OrgMember,
  UpsertMemberResponse,
  VocdoniErrorBody,
} from './types.js';

export const VOCDONI_CREDENTIAL_KEYS = ['token'] as const;

const KIND_BY_CODE: Record<number, UpstreamKind> = {
  40001: 'auth',
  40004: 'validation',
  40010: 'validation',
  40011: 'validation',
  40026: 'not_found',
  40037: 'validation',
  40145: 'validation',
  40150: 'other',
  40151: 'other',
  40173: 'other',
  50002: 'server',
};

/**
 * `{error, code}` → kind. A 4xx without that body is not the Vocdoni API answering (a
 * wrong baseUrl, a route it does not have): a ConnectionError. (getJob still falls back
 * on the 404 of the documented job route, which the current backend no longer serves.)
 */
export function decodeVocdoniError(raw: RawResponse, connection = 'vocdoni'): DecodedError | UpstreamError | undefined {
  if (raw.status < 400) return undefined;
  const body = raw.json as Partial<VocdoniErrorBody> | undefined;
  if (!body || typeof body.code !== 'number') {
    if (raw.status >= 500 || raw.status === 408 || raw.status === 429) return undefined;
    return notTheFormat(connection, raw, `HTTP ${raw.status} without a Vocdoni error body`);
  }
  const message = typeof body.error === 'string' ? body.error : `HTTP ${raw.status}`;
  let kind = KIND_BY_CODE[body.code];
  if (body.code === 40037 && /duplicates/i.test(message)) kind = 'duplicate';
  if (body.code === 50002 && /could not upsert org member/i.test(message)) kind = 'validation';
  if (!kind) return undefined;
  return { kind, remoteCode: String(body.code), message };
}

/** A "page not found" answer: the list shrank below the page asked for. */
export function isPageNotFound(err: unknown): boolean {
  const e = err as { remoteCode?: string; message?: string } | undefined;
  return e?.remoteCode === '40010' && /page not found/i.test(e.message ?? '');
}

export function vocdoniClient(ctx: ConnectorContext): HttpClient {
  const token = ctx.config.credentials.token;
  if (!token) throw new ConfigError(`connection ${ctx.name}: credentials.token missing (vocdoni needs a JWT or a vsk_ API key)`);
  registerSecret(token);
  return clientForConnection(ctx, { decodeError: (raw) => decodeVocdoniError(raw, ctx.name), headers: { authorization: `Bearer ${token}` } });
}

export interface CallOptions {
  counter?: RequestCounter;
  signal?: AbortSignal;
}

export class VocdoniApi {
  constructor(
    readonly client: HttpClient,
    readonly org: string,
  ) {}

  /** Every answer is JSON, or "\n" when there is nothing to report; anything else is not the API. */
  private async call<T>(opts: HttpRequestOptions): Promise<T> {
    const res = await this.client.request<T>(opts);
    if (res.json === undefined && res.text.trim() !== '') throw notTheFormat(this.client.connection, res, `${opts.method ?? 'GET'} ${opts.path.split('/').slice(0, 3).join('/')}: the answer is not JSON`);
    return res.json;
  }

  private path(rest: string): string {
    return `organizations/${encodeURIComponent(this.org)}/${rest}`;
  }

  listMembers(q: { page: number; limit: number; search?: string }, c: CallOptions = {}): Promise<MembersPage> {
    return this.call({ path: this.path('members'), searchParams: q, ...c });
  }

  /**
   * Insert-only bulk add. Never retried here: a dropped answer may hide a job that
   * did start, and a second POST would add everyone twice; the caller looks up first.
   */
  addMembers(members: OrgMember[], c: CallOptions = {}): Promise<AddMembersResponse> {
    return this.call({ method: 'POST', path: this.path('members'), searchParams: { async: 'true' }, json: { members }, retry: { maxAttempts: 1 }, ...c });
  }

  /** Upsert one member: a known id updates it, an empty or unknown id creates one. */
  upsertMember(member: OrgMember, c: CallOptions = {}): Promise<UpsertMemberResponse> {
    return this.call({ method: 'PUT', path: this.path('members'), json: member, ...c });
  }

  deleteMembers(ids: string[], c: CallOptions = {}): Promise<DeleteMembersResponse> {
    return this.call({ method: 'DELETE', path: this.path('members'), json: { ids }, ...c });
  }

  /** The documented job route first; the current backend serves only /jobs/{id}. */
  async getJob(jobId: string, legacyMissing: { value: boolean }, c: CallOptions = {}): Promise<JobResponse | LegacyJobResponse> {
    if (!legacyMissing.value) {
      try {
        return await this.call({ path: this.path(`members/job/${encodeURIComponent(jobId)}`), ...c });
      } catch (err) {
        if ((err as { status?: number }).status !== 404) throw err;
        legacyMissing.value = true;
      }
    }
    return this.call({ path: `jobs/${encodeURIComponent(jobId)}`, ...c });
  }

  listJobs(q: { page: number; limit: number }, c: CallOptions = {}): Promise<{ jobs?: JobResponse[] } | JobResponse[]> {
    return this.call({ path: 'jobs', searchParams: { orgAddress: this.org, type: 'org_members', ...q }, ...c });
  }

  listGroups(q: { page: number; limit: number }, c: CallOptions = {}): Promise<GroupsPage> {
    return this.call({ path: this.path('groups'), searchParams: q, ...c });
  }

  createGroup(body: { title: string; description: string; includeAllMembers: boolean }, c: CallOptions = {}): Promise<GroupInfo> {
    return this.call({ method: 'POST', path: this.path('groups'), json: body, ...c });
  }

  /** A group's info with its `memberIds`. */
  getGroup(groupId: string, c: CallOptions = {}): Promise<GroupInfo> {
    return this.call({ path: this.path(`groups/${encodeURIComponent(groupId)}`), ...c });
  }

  async addToGroup(groupId: string, memberIds: string[], c: CallOptions = {}): Promise<void> {
    await this.call({ method: 'PUT', path: this.path(`groups/${encodeURIComponent(groupId)}`), json: { addMembers: memberIds }, ...c });
  }
}

/** Progress of a job in either answer shape. */
export interface JobState {
  done: boolean;
  progress: number;
  added: number;
  errors: string[];
}

export function readJob(job: JobResponse | LegacyJobResponse): JobState {
  const current = 'result' in job || 'jobId' in job;
  const r = current ? ((job as JobResponse).result ?? {}) : (job as LegacyJobResponse);
  const progress = typeof r.progress === 'number' ? r.progress : 0;
  const done = progress >= 100 || (current && (job as JobResponse).status === 'completed');
  return { done, progress, added: r.added ?? 0, errors: Array.isArray(job.errors) ? job.errors : [] };
}
