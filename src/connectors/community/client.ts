/**
 * The community API client: OAuth 1.0a signed the GNOSS way (every request signed as a
 * GET of the URL without its query, API-NOTES.md section 3), and plain-text errors
 * whose body is the server's exception message, which alone says what went wrong.
 */
import { ConfigError, UpstreamError, type UpstreamKind } from '../../errors.js';
import { clientForConnection, notTheFormat, oauth1Authorizer, type DecodedError, type HttpClient, type RawResponse, type RequestCounter } from '../../http/index.js';
import { registerSecret } from '../../log.js';
import type { ConnectorContext } from '../types.js';
import type { CommunityInformation, GnossUser } from './types.js';

export const COMMUNITY_CREDENTIAL_KEYS = ['consumerKey', 'consumerSecret', 'token', 'tokenSecret'] as const;

/** Server messages and what they mean for us; matched case-insensitively. */
const KNOWN_MESSAGES: Array<[RegExp, UpstreamKind]> = [
  [/invalid oauth signature/i, 'auth'],
  [/does not have permission/i, 'auth'],
  [/user does not exist/i, 'not_found'],
  // the member left the community: for us the remote record is gone
  [/does not participate in the community/i, 'not_found'],
  // a wrong communityId/short name in the connection's options
  [/community does not exist/i, 'validation'],
  [/can not be empty/i, 'validation'],
  [/ISO8601/i, 'validation'],
];

/**
 * Plain-text error bodies -> error kinds. 429 and 5xx keep the default decision. The API
 * answers its own errors with 400 or 401 (GnossException); a 404 or 405 is a route it does
 * not have: not the API (a wrong baseUrl), a ConnectionError.
 */
export function decodeCommunityError(raw: RawResponse, connection = 'community'): DecodedError | UpstreamError | undefined {
  if (raw.status < 400 || raw.status === 429 || raw.status >= 500) return undefined;
  const message = raw.text.trim() || `HTTP ${raw.status}`;
  for (const [re, kind] of KNOWN_MESSAGES) if (re.test(message)) return { kind, message };
  if (raw.status === 404 || raw.status === 405) return notTheFormat(connection, raw, `HTTP ${raw.status}: no such route`);
  return undefined;
}

/** The connection's credentials, or a ConfigError naming the missing keys. */
export function communityCredentials(ctx: ConnectorContext): Record<(typeof COMMUNITY_CREDENTIAL_KEYS)[number], string> {
  const c = ctx.config.credentials;
  const missing = COMMUNITY_CREDENTIAL_KEYS.filter((k) => !c[k]);
  if (missing.length > 0) {
    throw new ConfigError(`connection ${ctx.name}: credentials.${missing.join(', credentials.')} missing (community needs ${COMMUNITY_CREDENTIAL_KEYS.join(', ')})`);
  }
  for (const k of COMMUNITY_CREDENTIAL_KEYS) registerSecret(c[k]);
  return { consumerKey: c.consumerKey, consumerSecret: c.consumerSecret, token: c.token, tokenSecret: c.tokenSecret };
}

export function communityClient(ctx: ConnectorContext): HttpClient {
  const creds = communityCredentials(ctx);
  return clientForConnection(ctx, {
    decodeError: (raw) => decodeCommunityError(raw, ctx.name),
    authorize: oauth1Authorizer(creds, { profile: 'gnoss' }),
  });
}

export interface CallOptions {
  counter?: RequestCounter;
  signal?: AbortSignal;
}

/** A success that is not the shape the API gives: not the API (a wrong baseUrl). */
function unexpected(client: HttpClient, what: string, res?: RawResponse): UpstreamError {
  return notTheFormat(client.connection, res, `${what}: the answer is not the community API's`);
}

export async function getCommunityInformation(client: HttpClient, shortName: string, call: CallOptions = {}): Promise<CommunityInformation> {
  const res = await client.request<CommunityInformation>({
    path: 'community/get-community-information',
    searchParams: { community_short_name: shortName },
    ...call,
  });
  if (!res.json || !Array.isArray(res.json.users)) throw unexpected(client, 'get-community-information', res);
  return res.json;
}

/** user_ids of members changed since `searchDate` (ISO 8601). */
export async function getModifiedUsers(client: HttpClient, shortName: string, searchDate: string, call: CallOptions = {}): Promise<string[]> {
  const res = await client.request<string[]>({
    path: 'user/get-modified-users',
    searchParams: { community_short_name: shortName, search_date: searchDate },
    ...call,
  });
  if (!Array.isArray(res.json)) throw unexpected(client, 'get-modified-users', res);
  return res.json;
}

export async function getUserById(client: HttpClient, userId: string, shortName: string, call: CallOptions = {}): Promise<GnossUser> {
  const res = await client.request<GnossUser>({
    path: 'user/get-by-id',
    searchParams: { user_id: userId, community_short_name: shortName },
    ...call,
  });
  if (!res.json || typeof res.json !== 'object') throw unexpected(client, 'get-by-id', res);
  return res.json;
}

/** modify-user answers 200 with an empty body; any failure arrives as an error. */
export async function modifyUser(client: HttpClient, body: Partial<GnossUser>, call: CallOptions = {}): Promise<void> {
  const res = await client.request({ method: 'POST', path: 'user/modify-user', json: body, ...call });
  // an HTML page here is a portal or a login page answering for the API
  if (/^\s*</.test(res.text)) throw unexpected(client, 'modify-user', res);
}

/**
 * What `check` verifies: the community information (the signature, the consumer and the
 * token, and the configured short name). A push also needs the OAuth user to be a project
 * admin: a modify-user of the empty user id changes nobody, and the server refuses a
 * non-admin (401) before it looks at the user (400).
 */
export async function checkCommunity(client: HttpClient, o: { communityShortName: string; communityId?: string }, needs: { push: boolean }, call: CallOptions = {}): Promise<string> {
  const info = await getCommunityInformation(client, o.communityShortName, call);
  if (needs.push) {
    try {
      await client.request({ method: 'POST', path: 'user/modify-user', json: { user_id: '00000000-0000-0000-0000-000000000000', community_id: o.communityId }, retry: { maxAttempts: 1 }, ...call });
    } catch (err) {
      if (!(err instanceof UpstreamError) || err.kind === 'auth' || !(err.status === 400)) throw err;
    }
  }
  return `community ${o.communityShortName}: ${info.users.length} member(s)${needs.push ? ', modify-user allowed' : ''}`;
}
