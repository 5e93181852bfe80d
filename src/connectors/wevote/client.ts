/**
 * The WeVote client. voterUpdate answers HTTP 200 whatever happened; the outcome is in
 * `success` and in `status`, a run of space-terminated codes concatenated along the
 * server's code path (API-NOTES.md section 4). The decoder below turns those codes into
 * error kinds, so a refused key is `auth` and a database error is retried.
 */
import { ConfigError, type UpstreamError, type UpstreamKind } from '../../errors.js';
import { clientForConnection, notTheFormat, type DecodedError, type HttpClient, type RawResponse, type RequestCounter } from '../../http/index.js';
import { registerSecret } from '../../log.js';
import type { ConnectorContext } from '../types.js';
import type { VoterUpdateResponse, WeVoteForm } from './types.js';

export const WEVOTE_CREDENTIAL_KEYS = ['apiKey', 'managementApiKey', 'voterDeviceId'] as const;
export type WeVoteCredentials = Record<(typeof WEVOTE_CREDENTIAL_KEYS)[number], string>;

export const VOTER_UPDATE_API_PATH = 'apis/v1/voterUpdate/';

/** Status codes that mean failure, most specific first. */
const FAILURE_CODES: Array<[string, UpstreamKind]> = [
  ['RequestDataTooBig', 'validation'],
  ['VALID_VOTER_DEVICE_ID_MISSING', 'auth'],
  ['MANAGEMENT_API_KEY_NOT_ACCEPTED', 'auth'],
  // the configured voterDeviceId names no voter: the credential is wrong
  ['VOTER_NOT_FOUND_FROM_DEVICE_ID', 'auth'],
  ['VOTER_NOT_FOUND', 'not_found'],
  ['MISSING_VOTER_ID', 'not_found'],
  ['INVALID_STAFF_ACCESS', 'validation'],
  // a database error on the server: worth another try
  ['UNABLE_TO_UPDATE_VOTER', 'server'],
];

/** The status codes in the order the server emitted them. */
export function statusCodes(status: string): string[] {
  return status
    .split(/\s+/)
    .map((s) => s.replace(/:$/, ''))
    .filter((s) => /^[A-Z][A-Za-z0-9_-]+$/.test(s));
}

/** `{ status, success }` -> undefined on success, else the failure's kind and code. */
export function decodeVoterStatus(status: string | undefined, success: boolean | undefined): DecodedError | undefined {
  const text = (status ?? '').trim();
  if (success === true) return undefined;
  for (const [code, kind] of FAILURE_CODES) {
    if (text.includes(code)) return { kind, remoteCode: code, message: text };
  }
  return { kind: 'other', remoteCode: statusCodes(text).at(-1), message: text || 'voterUpdate failed without a status' };
}

/**
 * Every answer is 200; a JSON answer carries its verdict in `success`. Anything else that
 * is not a 429, a 408 or a 5xx (an HTML page, a 404) is not WeVote answering: a
 * ConnectionError.
 */
export function decodeWeVoteError(raw: RawResponse, connection = 'wevote'): DecodedError | UpstreamError | undefined {
  if (raw.status !== 200) {
    if (raw.status >= 400 && raw.status < 500 && raw.status !== 408 && raw.status !== 429) return notTheFormat(connection, raw, `voterUpdate answered HTTP ${raw.status}`);
    return undefined;
  }
  const body = raw.json as Partial<VoterUpdateResponse> | undefined;
  if (!body || typeof body !== 'object' || typeof body.success !== 'boolean') {
    return notTheFormat(connection, raw, 'voterUpdate answered something that is not its JSON');
  }
  return decodeVoterStatus(body.status, body.success);
}

export function wevoteCredentials(ctx: ConnectorContext): WeVoteCredentials {
  const c = ctx.config.credentials;
  const missing = WEVOTE_CREDENTIAL_KEYS.filter((k) => !c[k]);
  if (missing.length > 0) {
    throw new ConfigError(`connection ${ctx.name}: credentials.${missing.join(', credentials.')} missing (wevote needs ${WEVOTE_CREDENTIAL_KEYS.join(', ')})`);
  }
  if (c.voterDeviceId.length < 71 || c.voterDeviceId.length > 89) {
    throw new ConfigError(`connection ${ctx.name}: credentials.voterDeviceId must be 71-89 characters long (WeVote refuses others)`);
  }
  for (const k of WEVOTE_CREDENTIAL_KEYS) registerSecret(c[k]);
  return { apiKey: c.apiKey, managementApiKey: c.managementApiKey, voterDeviceId: c.voterDeviceId };
}

export function wevoteClient(ctx: ConnectorContext): HttpClient {
  return clientForConnection(ctx, { decodeError: (raw) => decodeWeVoteError(raw, ctx.name) });
}

/**
 * One voterUpdate POST, form-encoded (the server reads no JSON body). Credentials and
 * create_account are added here so they never enter the payload hash.
 */
export async function voterUpdate(
  client: HttpClient,
  creds: WeVoteCredentials,
  fields: WeVoteForm,
  call: { createAccount?: boolean; counter?: RequestCounter; signal?: AbortSignal } = {},
): Promise<VoterUpdateResponse> {
  const res = await client.request<VoterUpdateResponse>({
    method: 'POST',
    path: VOTER_UPDATE_API_PATH,
    form: {
      ...fields,
      voter_device_id: creds.voterDeviceId,
      api_key: creds.apiKey,
      management_api_key: creds.managementApiKey,
      // omitted rather than "False": absent is the one value every parser reads as no
      ...(call.createAccount ? { create_account: 'true' } : {}),
    },
    counter: call.counter,
    signal: call.signal,
  });
  return res.json;
}
