/**
 * Convio SRConsAPI client: every call is a form POST to `<baseUrl>/SRConsAPI` carrying
 * api_key, v=1.0, login_name/login_password and response_format=json in the body (never
 * the URL, so no credential lands in a log line or an error). Errors arrive as HTTP 403
 * with `errorResponse {code, message}`; the code, not the status, says what went wrong.
 */
import { ConfigError, UpstreamError, type UpstreamKind } from '../../errors.js';
import { clientForConnection, notTheFormat, type DecodedError, type HttpClient, type RawResponse, type RequestCounter } from '../../http/index.js';
import { registerSecret } from '../../log.js';
import type { ConnectorContext } from '../types.js';
import { asList, scalar } from './mapping.js';
import {
  CONVIO_CODES as C,
  GROUP_MEMBER_FIELDS,
  type ConvioCons,
  type ConvioCredentials,
  type ConvioForm,
  type ConvioGroupMember,
  type ConvioLookup,
  type ConvioUserField,
} from './types.js';

/**
 * The errorResponse codes that are the connection's (the key, the API user, its IP, its
 * rights): they stop a pull or push. Every other 403 code is about one record (a
 * duplicate, a missing field, "Invalid password" 20 of the constituent) and stays that
 * member's failure.
 */
export const CONNECTION_CODES: ReadonlySet<string> = new Set<string>([C.BAD_API_KEY, C.AUTH_FAILED, C.IP_REFUSED, C.NEEDS_AUTH_TOKEN, C.SSO_FAILED, C.METHOD_NOT_ALLOWED]);
const AUTH_CODES = CONNECTION_CODES;
const DUPLICATE_CODES = new Set<string>([C.MATCHED_MANY, C.ADD_DUPLICATE, C.DUPLICATE_USER_NAME, C.DUPLICATE_EMAIL, C.UPDATE_MATCHED_MANY]);

/** errorResponse code → kind. "Matched more than one" (8, 15) is a duplicate at Convio. */
export function convioErrorKind(code: string | undefined): UpstreamKind {
  if (code === undefined) return 'other';
  if (AUTH_CODES.has(code)) return 'auth';
  if (DUPLICATE_CODES.has(code)) return 'duplicate';
  if (code === C.NOT_FOUND) return 'not_found';
  if (code === C.UNABLE || code === C.BAD_METHOD || code === '17' || code === C.GROUP_ERROR) return 'other';
  const n = Number(code);
  // 9, 10 missing parameters; 18, 20, 22, 23, 35, 50 and the other 21–36 input problems
  if (n === 9 || n === 10 || n === 50 || (n >= 18 && n <= 36)) return 'validation';
  return 'other';
}

function xmlTag(text: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(text);
  return m ? m[1].trim() : undefined;
}

/**
 * Reads `errorResponse` from JSON, or from XML should a proxy drop response_format. A 4xx
 * without one is not Convio answering (a wrong baseUrl, a portal page): a ConnectionError.
 */
export function decodeConvioError(raw: RawResponse, connection = 'convio'): DecodedError | UpstreamError | undefined {
  const env = (raw.json as { errorResponse?: { code?: unknown; message?: unknown } } | undefined)?.errorResponse;
  if (env) {
    const code = scalar(env.code);
    return { kind: convioErrorKind(code), message: scalar(env.message) ?? 'Convio error', remoteCode: code };
  }
  if (raw.json === undefined && raw.text.includes('<errorResponse')) {
    const code = xmlTag(raw.text, 'code');
    return { kind: convioErrorKind(code), message: xmlTag(raw.text, 'message') ?? 'Convio error', remoteCode: code };
  }
  if (raw.status >= 400 && raw.status < 500 && raw.status !== 408 && raw.status !== 429) {
    return notTheFormat(connection, raw, `HTTP ${raw.status} without a Convio errorResponse`);
  }
  return undefined;
}

/** The documented example has `"updateConsResponse "` with a trailing space: match trimmed. */
function root(json: unknown, name: string): Record<string, unknown> | undefined {
  if (!json || typeof json !== 'object') return undefined;
  for (const [k, v] of Object.entries(json)) if (k.trim() === name) return (v ?? {}) as Record<string, unknown>;
  return undefined;
}

export function convioCredentials(ctx: ConnectorContext): ConvioCredentials {
  const c = ctx.config.credentials;
  for (const key of ['apiKey', 'loginName', 'loginPassword'] as const) {
    if (!c[key]) throw new ConfigError(`connections.${ctx.name}.credentials.${key} is required for a convio connection`);
  }
  for (const key of ['apiKey', 'loginPassword'] as const) registerSecret(c[key]);
  return { apiKey: c.apiKey, loginName: c.loginName, loginPassword: c.loginPassword };
}

export interface CallOptions {
  counter?: RequestCounter;
  signal?: AbortSignal;
}

export interface ConvioApi {
  readonly http: HttpClient;
  /** a raw SRConsAPI call; resolves with the content of `expectRoot` */
  call(method: string, params: ConvioForm, expectRoot: string, opts?: CallOptions): Promise<Record<string, unknown>>;
  getUser(lookup: ConvioLookup, opts?: CallOptions): Promise<ConvioCons>;
  /** `offset` uses the simulator's paging extension (real Convio has none) */
  getGroupMembers(groupId: number, page: { maxNumber: number; offset?: number }, opts?: CallOptions): Promise<ConvioGroupMember[]>;
  update(lookup: ConvioLookup, form: ConvioForm, opts?: CallOptions): Promise<{ consId?: string; message?: string }>;
  createOrUpdate(form: ConvioForm, opts?: CallOptions): Promise<{ consId?: string; message?: string }>;
  create(form: ConvioForm, opts?: CallOptions): Promise<{ consId?: string }>;
  listUserFields(opts?: CallOptions): Promise<ConvioUserField[]>;
}

export function convioApi(ctx: ConnectorContext): ConvioApi {
  const creds = convioCredentials(ctx);
  const http = clientForConnection(ctx, { decodeError: (raw) => decodeConvioError(raw, ctx.name) });

  async function call(method: string, params: ConvioForm, expectRoot: string, opts: CallOptions = {}): Promise<Record<string, unknown>> {
    const res = await http.request({
      method: 'POST',
      path: 'SRConsAPI',
      form: {
        ...params,
        method,
        api_key: creds.apiKey,
        v: '1.0',
        response_format: 'json',
        login_name: creds.loginName,
        login_password: creds.loginPassword,
      },
      counter: opts.counter,
      signal: opts.signal ?? ctx.signal,
    });
    const body = root(res.json, expectRoot);
    if (!body) throw notTheFormat(ctx.name, res, `${method}: the answer has no ${expectRoot}`);
    return body;
  }

  const lookupForm = (l: ConvioLookup): ConvioForm =>
    Object.fromEntries(Object.entries(l).filter(([, v]) => typeof v === 'string' && v !== '')) as ConvioForm;

  return {
    http,
    call,
    async getUser(lookup, opts) {
      return (await call('getUser', lookupForm(lookup), 'getConsResponse', opts)) as ConvioCons;
    },
    async getGroupMembers(groupId, page, opts) {
      const params: ConvioForm = { group_id: String(groupId), fields: GROUP_MEMBER_FIELDS.join(','), max_number: String(page.maxNumber) };
      if (page.offset !== undefined) {
        params.list_page_offset = String(page.offset);
        params.list_page_size = String(page.maxNumber);
      }
      const body = await call('getGroupMembers', params, 'getGroupMembersResponse', opts);
      return asList<ConvioGroupMember>(body.member);
    },
    async update(lookup, form, opts) {
      const body = await call('update', { ...form, ...lookupForm(lookup) }, 'updateConsResponse', opts);
      return { consId: scalar(body.cons_id), message: scalar(body.message) };
    },
    async createOrUpdate(form, opts) {
      const body = await call('createOrUpdate', form, 'createOrUpdateConsResponse', opts);
      return { consId: scalar(body.cons_id), message: scalar(body.message) };
    },
    async create(form, opts) {
      const body = await call('create', form, 'createConsResponse', opts);
      return { consId: scalar(body.cons_id) };
    },
    async listUserFields(opts) {
      const body = await call('listUserFields', { access: 'view' }, 'listConsFieldsResponse', opts);
      return asList<ConvioUserField>(body.field);
    },
  };
}
