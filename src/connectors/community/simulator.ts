/**
 * A loopback GNOSS-style community API v3 that behaves as API-NOTES.md section 3 says:
 * OAuth 1.0a checked the GNOSS way (method GET, URL without query), plain-text errors
 * with the server's messages, .NET defaults in answers, modify-user applying only the
 * non-empty fields it honours and answering 200 with an empty body.
 *
 * Every route is a real one; there are no simulator extensions.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { send, startSimServer, verifyOAuth1Request, type SimRequest } from '../../http/index.js';
import type { MemberValues } from '../../types.js';
import type { SimulatorHandle, SimulatorOptions } from '../types.js';
import { EMPTY_DATE, EMPTY_GUID, type CommunityInformation, type GnossUser } from './types.js';

export interface CommunitySimUser {
  user: GnossUser;
  /** false: the user exists on the platform but not in this community */
  member: boolean;
  /** ms epoch of the last change, for get-modified-users */
  modifiedAt: number;
}

export interface CommunitySimState {
  community: { id: string; shortName: string; name: string };
  users: Map<string, CommunitySimUser>;
  /** modify-user needs the OAuth user to be a project admin */
  oauthUserIsAdmin: boolean;
}

export interface CommunitySimulatorOptions extends SimulatorOptions {
  /** seeded as members of the community */
  people?: MemberValues[];
  /** seeded as platform users outside the community */
  outsiders?: MemberValues[];
  consumerKey?: string;
  consumerSecret?: string;
  token?: string;
  tokenSecret?: string;
  communityShortName?: string;
  communityId?: string;
  /** @defaultValue true */
  oauthUserIsAdmin?: boolean;
  /**
   * how far the server's clock is ahead of ours (negative: behind); it stamps changes, which
   * get-modified-users compares with search_date @defaultValue 0
   */
  clockOffsetMs?: number;
}

/** Base path the API is served under; the connection's baseUrl includes it. */
export const COMMUNITY_BASE_PATH = '/api/v3';

const PLAIN = 'text/html; charset=utf-8';

const MSG = {
  signature: 'Invalid OAuth signature',
  userAndCommunity: 'The user and the community can not be empty',
  notParticipating: 'The user does not participate in the community',
  noPermission: 'The OAuth user does not have permission to perform this action',
  noCommunity: 'The community does not exist',
  noUser: 'The user does not exist',
  emptyParams: 'The requested params can not be empty',
  badDate: 'The parameter search_date has not the ISO8601 format',
};

function slug(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function seedUser(p: MemberValues, community: CommunitySimState['community'], member: boolean): GnossUser {
  const id = randomUUID();
  const sex = p.sex ? (/^(f|female|mujer|woman)$/i.test(p.sex) ? 'M' : /^(m|male|h|hombre|man)$/i.test(p.sex) ? 'H' : '') : '';
  return {
    name: p.first_name ?? '',
    last_name: p.last_name ?? '',
    email: p.email ?? '',
    sex,
    community_id: member ? community.id : EMPTY_GUID,
    community_short_name: member ? community.shortName : null,
    user_id: id,
    user_short_name: slug(`${p.first_name ?? ''} ${p.last_name ?? ''} ${id.slice(0, 4)}`),
    photo: p.photo_url ?? null,
    born_date: p.birth_date ? `${p.birth_date.slice(0, 10)}T00:00:00` : EMPTY_DATE,
    country_id: EMPTY_GUID,
    country: p.country ?? null,
    province_id: EMPTY_GUID,
    provice: p.province ?? null,
    city: p.city ?? null,
    postal_code: p.postal_code ?? null,
    address: p.address ?? null,
    id_card: p.national_id ?? null,
    join_community_date: p.join_date ? `${p.join_date.slice(0, 10)}T00:00:00` : EMPTY_DATE,
    extra_data: [],
    user_events: [],
    preferences: [],
    num_access: 0,
    last_login: EMPTY_DATE,
  };
}

/** What get-by-id answers: the stored user with the fields it never fills blanked. */
function answerUser(u: GnossUser): GnossUser {
  return { ...u, languaje: null, receive_newsletter: false, password: null, address: null };
}

/** ISO 8601 as .NET's reader takes it: a date, optionally with time and offset. */
function parseIsoDate(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : at;
}

/** The fields modify-user applies when non-empty (API-NOTES.md section 3). */
const HONOURED = ['name', 'last_name', 'email', 'sex', 'country_id', 'province_id', 'provice', 'city', 'postal_code'] as const;

export async function startCommunitySimulator(
  opts: CommunitySimulatorOptions = {},
): Promise<SimulatorHandle & { state: CommunitySimState }> {
  const creds = {
    consumerKey: opts.consumerKey ?? 'sim-consumer-key',
    consumerSecret: opts.consumerSecret ?? 'sim-consumer-secret',
    token: opts.token ?? 'sim-token',
    tokenSecret: opts.tokenSecret ?? 'sim-token-secret',
  };
  const community = {
    id: (opts.communityId ?? randomUUID()).toLowerCase(),
    shortName: opts.communityShortName ?? 'developers',
    name: 'Developers',
  };
  const state: CommunitySimState = { community, users: new Map(), oauthUserIsAdmin: opts.oauthUserIsAdmin ?? true };
  const clock = (): number => Date.now() + (opts.clockOffsetMs ?? 0);
  const now = clock();
  for (const p of opts.people ?? []) {
    const user = seedUser(p, community, true);
    state.users.set(user.user_id!, { user, member: true, modifiedAt: now });
  }
  for (const p of opts.outsiders ?? []) {
    const user = seedUser(p, community, false);
    state.users.set(user.user_id!, { user, member: false, modifiedAt: now });
  }

  const fail = (res: ServerResponse, status: number, message: string): void => send(res, status, message, PLAIN);

  function communityMatches(params: Record<string, string>): boolean | undefined {
    const short = params.community_short_name;
    const id = params.community_id;
    if (!short && !id) return undefined;
    return short ? short.toLowerCase() === community.shortName.toLowerCase() : id.toLowerCase() === community.id;
  }

  function handle(req: SimRequest, res: ServerResponse): void {
    const auth = verifyOAuth1Request(
      { method: req.method, url: req.url.toString(), headers: req.headers },
      {
        profile: 'gnoss',
        consumerSecret: (key) => (key === creds.consumerKey ? creds.consumerSecret : undefined),
        tokenSecret: (token) => (token === creds.token ? creds.tokenSecret : undefined),
      },
    );
    // the server answers the same text whatever part of OAuth failed
    if (!auth.ok) return fail(res, 401, MSG.signature);

    const route = `${req.method} ${req.path.slice(COMMUNITY_BASE_PATH.length)}`;
    const p = req.params;
    switch (route) {
      case 'GET /community/get-community-information': {
        const ok = communityMatches(p);
        if (ok === undefined) return fail(res, 400, MSG.emptyParams);
        if (!ok) return fail(res, 400, MSG.noCommunity);
        const info: CommunityInformation = {
          name: community.name,
          short_name: community.shortName,
          description: '',
          tags: '',
          type: 0,
          access_type: 0,
          categories: [],
          users: [...state.users.values()].filter((u) => u.member).map((u) => u.user.user_id!),
          state: 1,
        };
        return send(res, 200, JSON.stringify(info));
      }
      case 'GET /user/get-modified-users': {
        const ok = communityMatches(p);
        if (ok === undefined || !p.search_date) return fail(res, 400, MSG.emptyParams);
        const since = parseIsoDate(p.search_date);
        if (since === undefined) return fail(res, 400, MSG.badDate);
        if (!ok) return fail(res, 400, MSG.noCommunity);
        const ids = [...state.users.values()].filter((u) => u.member && u.modifiedAt >= since).map((u) => u.user.user_id!);
        return send(res, 200, JSON.stringify(ids));
      }
      case 'GET /user/get-by-id': {
        const ok = communityMatches(p);
        if (!p.user_id || ok === undefined) return fail(res, 400, MSG.userAndCommunity);
        if (!ok) return fail(res, 400, MSG.noCommunity);
        const found = state.users.get(p.user_id.toLowerCase());
        if (!found) return fail(res, 400, MSG.noUser);
        if (!found.member) return fail(res, 400, MSG.notParticipating);
        return send(res, 200, JSON.stringify(answerUser(found.user)));
      }
      case 'POST /user/modify-user':
        return modifyUser(req, res);
      case 'POST /user/delete-user-from-community':
        return deleteFromCommunity(req, res);
      default:
        return fail(res, 404, 'Not Found');
    }
  }

  /**
   * `BorrarUsuarioDeComunidad`: body `{user_short_name, community_short_name}`; the user's
   * identity in the community gets a leaving date (no longer a member); void, 200 with an
   * empty body, also when no such user is in the community.
   */
  function deleteFromCommunity(req: SimRequest, res: ServerResponse): void {
    if (!state.oauthUserIsAdmin) return fail(res, 401, MSG.noPermission);
    const body = (req.json && typeof req.json === 'object' ? req.json : {}) as { user_short_name?: string; community_short_name?: string };
    if (body.community_short_name === community.shortName && body.user_short_name) {
      for (const u of state.users.values()) {
        if (u.user.user_short_name === body.user_short_name && u.member) {
          u.member = false;
          u.modifiedAt = clock();
        }
      }
    }
    res.writeHead(200, { 'content-length': 0 });
    res.end();
  }

  function modifyUser(req: SimRequest, res: ServerResponse): void {
    if (!state.oauthUserIsAdmin) return fail(res, 401, MSG.noPermission);
    const body = (req.json && typeof req.json === 'object' ? req.json : {}) as GnossUser;
    const userId = body.user_id?.toLowerCase();
    const communityId = body.community_id?.toLowerCase();
    if (!userId || userId === EMPTY_GUID || !communityId || communityId === EMPTY_GUID) {
      return fail(res, 400, MSG.userAndCommunity);
    }
    if (communityId !== community.id) return fail(res, 400, MSG.noCommunity);
    const found = state.users.get(userId);
    if (!found) return fail(res, 400, MSG.noUser);
    if (!found.member) return fail(res, 400, MSG.notParticipating);
    const target = found.user;
    for (const key of HONOURED) {
      const value = body[key];
      if (typeof value === 'string' && value.trim() !== '' && value !== EMPTY_GUID) target[key] = value;
    }
    if (body.born_date && !body.born_date.startsWith('0001-01-01')) {
      const at = parseIsoDate(body.born_date);
      if (at === undefined) return fail(res, 400, `Error converting value "${body.born_date}" to type 'System.DateTime'`);
      target.born_date = `${new Date(at).toISOString().slice(0, 10)}T00:00:00`;
    }
    if (Array.isArray(body.extra_data) && body.extra_data.length > 0) target.extra_data = body.extra_data;
    if (Array.isArray(body.preferences) && body.preferences.length > 0) target.preferences = body.preferences;
    found.modifiedAt = clock();
    res.writeHead(200, { 'content-length': 0 });
    res.end();
  }

  const server = await startSimServer({ host: opts.host, port: opts.port, faults: opts.faults, handle });
  return {
    url: `${server.url}${COMMUNITY_BASE_PATH}`,
    requests: server.requests,
    setFaults: (f) => server.setFaults(f),
    close: () => server.close(),
    state,
  };
}
