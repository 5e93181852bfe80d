/**
 * A loopback WeVoteServer `voterUpdate` that behaves as API-NOTES.md section 4 and
 * wevote-voterUpdate.txt say: always HTTP 200 JSON, concatenated space-terminated
 * statuses, GET and POST parsed differently, `*_changed` gating on POST, integer flags
 * where a non-number is 0, whole-value flags overriding set/unset, set before unset,
 * the twitter-photo bug that copies last_name, and the management key + email lookup
 * (a verified e-mail, else an SMS-verified `phone_number`).
 *
 * Simulator extensions (not in the documented answer; the client reads them only when
 * present): `we_vote_id` and `voter_created` in the voterUpdate answer, and the statuses
 * of the email lookup, which the page does not give: `VOTER_CREATED_FROM_EMAIL_ADDRESS`
 * when create_account made a voter, `VOTER_FOUND_FROM_PHONE_NUMBER` when the phone found it,
 * `VOTER_NOT_FOUND_FROM_EMAIL_ADDRESS-VOTER_UPDATE`
 * for an unknown email without it. `state.failNextUpdate` is a test hook (the
 * documented `UNABLE_TO_UPDATE_VOTER: <exc>` database error), not an API.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { send, startSimServer, type SimRequest } from '../../http/index.js';
import type { MemberValues } from '../../types.js';
import type { SimulatorHandle, SimulatorOptions } from '../types.js';
import type { VoterUpdateResponse } from './types.js';
import { WEVOTE_INT_FIELDS, WEVOTE_STRING_FIELDS, type WeVoteIntField, type WeVoteStringField } from './types.js';

export interface WeVoteSimVoter {
  we_vote_id: string;
  /** verified email, the management lookup key */
  email: string | null;
  /** an e-mail the voter gave but never verified: no lookup finds the voter by it */
  unverified_email: string | null;
  /** SMS-verified phone number (E.164), the management lookup key after the e-mail */
  phone: string | null;
  first_name: string;
  middle_name: string;
  last_name: string;
  facebook_email: string;
  facebook_profile_image_url_https: string;
  twitter_profile_image_url_https: string;
  interface_status_flags: number;
  notification_settings_flags: number;
}

export interface WeVoteSimState {
  voters: Map<string, WeVoteSimVoter>;
  /** voter_device_id -> we_vote_id */
  devices: Map<string, string>;
  managementApiKey: string;
  /** the next update fails as a database error would, with this exception text */
  failNextUpdate?: string;
}

export interface WeVoteSimulatorOptions extends SimulatorOptions {
  /** seeded as voters with a verified email (and, when given, an SMS-verified phone) */
  people?: MemberValues[];
  /** seeded voters whose e-mail is not verified (`emailVerified: false`) or whose phone is not (`phoneVerified: false`) */
  voters?: Array<MemberValues & { emailVerified?: boolean; phoneVerified?: boolean }>;
  managementApiKey?: string;
  /** documented as required but never checked by the server; accepted and ignored */
  apiKey?: string;
  /** device ids bound to a (new, nameless) voter each */
  deviceIds?: string[];
}

export const VOTER_UPDATE_PATH = '/apis/v1/voterUpdate/';

/** A well-formed voter_device_id (the server wants 71-89 characters). */
export function newVoterDeviceId(): string {
  return randomBytes(66).toString('base64url');
}

const FALSY = new Set(['', 'None', 'FALSE', 'False', 'false', '0']);
/** wevote_functions.positive_value_exists for a form value */
function positive(value: string | undefined): boolean {
  if (value === undefined || FALSY.has(value)) return false;
  const n = Number(value);
  return Number.isNaN(n) || n > 0;
}

/** int(value), and anything that is not a number becomes 0 */
function toInt(value: string): number {
  const t = value.trim();
  return /^[+-]?\d+$/.test(t) ? Number.parseInt(t, 10) : 0;
}

let counter = 0;
/** A phone as the lookup compares it: E.164 without spaces or punctuation. */
const phoneKey = (phone: string | null | undefined): string | null => phone?.replace(/[\s().-]/g, '') || null;

function newVoter(email: string | null, p: MemberValues = {}, phone: string | null = null): WeVoteSimVoter {
  counter++;
  return {
    we_vote_id: `wv01voter${String(counter).padStart(6, '0')}${randomBytes(2).toString('hex')}`,
    email,
    unverified_email: null,
    phone: phoneKey(phone),
    first_name: p.first_name ?? '',
    middle_name: p.middle_name ?? '',
    last_name: p.last_name ?? '',
    facebook_email: '',
    facebook_profile_image_url_https: p.facebook_photo_url ?? '',
    twitter_profile_image_url_https: p.twitter_photo_url ?? '',
    interface_status_flags: p.interface_status_flags ?? 0,
    notification_settings_flags: p.notification_settings_flags ?? 0,
  };
}

export async function startWeVoteSimulator(opts: WeVoteSimulatorOptions = {}): Promise<SimulatorHandle & { state: WeVoteSimState }> {
  const state: WeVoteSimState = { voters: new Map(), devices: new Map(), managementApiKey: opts.managementApiKey ?? 'sim-management-key' };
  for (const p of opts.people ?? []) {
    const v = newVoter(p.email?.trim().toLowerCase() || null, p, p.phone ?? null);
    state.voters.set(v.we_vote_id, v);
  }
  for (const p of opts.voters ?? []) {
    const email = p.email?.trim().toLowerCase() || null;
    const v = newVoter(p.emailVerified === false ? null : email, p, p.phoneVerified === false ? null : (p.phone ?? null));
    if (p.emailVerified === false) v.unverified_email = email;
    state.voters.set(v.we_vote_id, v);
  }
  for (const device of opts.deviceIds ?? []) {
    const v = newVoter(null);
    state.voters.set(v.we_vote_id, v);
    state.devices.set(device, v.we_vote_id);
  }

  function handle(req: SimRequest, res: ServerResponse): void {
    const path = req.path.endsWith('/') ? req.path : `${req.path}/`;
    if (path !== VOTER_UPDATE_PATH || (req.method !== 'GET' && req.method !== 'POST')) {
      return send(res, 404, '<h1>Not Found</h1>', 'text/html');
    }
    const answer = voterUpdate(req);
    send(res, 200, JSON.stringify(answer));
  }

  function voterUpdate(req: SimRequest): VoterUpdateResponse & Record<string, unknown> {
    const isPost = req.method === 'POST';
    const query = Object.fromEntries(req.url.searchParams);
    // Django reads only form bodies into request.POST; a JSON body is invisible
    const formBody = isPost && String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');
    const post: Record<string, string> = formBody ? Object.fromEntries(new URLSearchParams(req.body)) : {};
    const cookie = /(?:^|;\s*)voter_device_id=([^;]*)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const headerDevice = req.headers['x-header-deviceid'];
    const deviceId = (typeof headerDevice === 'string' ? headerDevice : undefined) ?? query.voter_device_id ?? post.voter_device_id ?? cookie ?? '';
    const input = isPost ? post : query;
    const base = { voter_device_id: deviceId, voter_updated: false };

    if (req.body.length > 2_621_440) return { status: 'RequestDataTooBig ', success: false, ...base };
    if (deviceId.length < 71 || deviceId.length > 89) {
      return { status: 'VOTER_DEVICE_ID_NOT_BALLOT VALID_VOTER_DEVICE_ID_MISSING ', success: false, ...base };
    }

    let voter: WeVoteSimVoter | undefined;
    let created = false;
    let status = '';
    const email = input.email_address?.trim().toLowerCase() || undefined;
    const phone = phoneKey(input.phone_number);
    if (input.management_api_key !== undefined && (email || phone)) {
      if (input.management_api_key !== state.managementApiKey) return { status: 'MANAGEMENT_API_KEY_NOT_ACCEPTED ', success: false, ...base };
      // a verified e-mail first, then an SMS-verified phone (wevote-voterUpdate.txt)
      voter = email ? [...state.voters.values()].find((v) => v.email === email) : undefined;
      if (!voter && phone) {
        voter = [...state.voters.values()].find((v) => v.phone === phone);
        if (voter) status += 'VOTER_FOUND_FROM_PHONE_NUMBER ';
      }
      if (!voter && positive(input.create_account) && !positive(input.delete_voter_account)) {
        voter = newVoter(email ?? null, {}, phone);
        state.voters.set(voter.we_vote_id, voter);
        created = true;
        status += 'VOTER_CREATED_FROM_EMAIL_ADDRESS ';
      }
      if (!voter) return { status: 'VOTER_NOT_FOUND_FROM_EMAIL_ADDRESS-VOTER_UPDATE ', success: false, ...base };
    } else {
      const id = state.devices.get(deviceId);
      voter = id ? state.voters.get(id) : undefined;
      if (!voter) return { status: 'VOTER_NOT_FOUND_FROM_DEVICE_ID-VOTER_UPDATE ', success: false, ...base };
    }

    // delete_voter_account=true deletes the voter permanently (API-NOTES.md section 4)
    if (positive(input.delete_voter_account)) {
      state.voters.delete(voter.we_vote_id);
      for (const [device, id] of state.devices) if (id === voter.we_vote_id) state.devices.delete(device);
      return { status: `${status}VOTER_DELETED `, success: true, ...base, voter_deleted: true };
    }
    // strings: GET counts a present value unless it is "false"; POST needs <field>_changed
    const strings: Partial<Record<WeVoteStringField, string | false>> = {};
    for (const field of WEVOTE_STRING_FIELDS) {
      if (isPost) strings[field] = positive(post[`${field}_changed`]) && post[field] !== undefined ? post[field] : false;
      else if (query[field] === undefined || query[field].trim().toLowerCase() === 'false') strings[field] = false;
      else strings[field] = query[field].trim();
    }
    const ints: Partial<Record<WeVoteIntField, number>> = {};
    for (const field of WEVOTE_INT_FIELDS) if (input[field] !== undefined) ints[field] = toInt(input[field]);

    const echoed = {
      middle_name: strings.middle_name ?? false,
      facebook_email: strings.facebook_email ?? false,
      facebook_profile_image_url_https: strings.facebook_profile_image_url_https ?? false,
      twitter_profile_image_url_https: strings.twitter_profile_image_url_https ?? false,
      flag_integer_to_set: ints.flag_integer_to_set ?? false,
      flag_integer_to_unset: ints.flag_integer_to_unset ?? false,
      notification_flag_integer_to_set: ints.notification_flag_integer_to_set ?? false,
      notification_flag_integer_to_unset: ints.notification_flag_integer_to_unset ?? false,
    } as const;
    const stored = (v: WeVoteSimVoter) => ({
      first_name: v.first_name,
      last_name: v.last_name,
      interface_status_flags: v.interface_status_flags,
      notification_settings_flags: v.notification_settings_flags,
      profile_image_type_currently_active: 'UNKNOWN',
      we_vote_hosted_profile_image_url_large: '',
      we_vote_hosted_profile_image_url_medium: '',
      we_vote_hosted_profile_image_url_tiny: '',
      we_vote_id: v.we_vote_id,
      voter_created: created,
    });

    const anyString = Object.values(strings).some((s) => s !== false);
    if (!anyString && Object.keys(ints).length === 0 && !created) {
      return { status: `${status}MISSING_VARIABLE_NO_VARIABLES_PASSED_IN_TO_CHANGE `, success: true, ...base, ...echoed, ...stored(voter) };
    }
    if (state.failNextUpdate !== undefined) {
      const exc = state.failNextUpdate;
      state.failNextUpdate = undefined;
      return { status: `${status}UNABLE_TO_UPDATE_VOTER: ${exc} `, success: false, ...base, ...echoed };
    }
    applyUpdate(voter, strings, ints, input.name_save_only_if_no_existing_names);
    return { status: `${status}UPDATED_VOTER `, success: true, ...base, voter_updated: true, ...echoed, ...stored(voter) };
  }

  const server = await startSimServer({ host: opts.host, port: opts.port, faults: opts.faults, handle });
  return { url: server.url, requests: server.requests, setFaults: (f) => server.setFaults(f), close: () => server.close(), state };
}

function applyUpdate(
  voter: WeVoteSimVoter,
  s: Partial<Record<WeVoteStringField, string | false>>,
  ints: Partial<Record<WeVoteIntField, number>>,
  onlyIfNoNames: string | undefined,
): void {
  let first = s.first_name ?? false;
  let last = s.last_name ?? false;
  if (first === false && last === false && typeof s.full_name === 'string') {
    const parts = s.full_name.trim().split(/\s+/);
    first = parts[0] ?? '';
    last = parts.slice(1).join(' ');
  }
  if (positive(onlyIfNoNames) && (voter.first_name || voter.last_name)) {
    first = false;
    last = false;
  }
  if (first !== false) voter.first_name = first;
  if (last !== false) voter.last_name = last;
  if (s.middle_name !== false && s.middle_name !== undefined) voter.middle_name = s.middle_name;
  if (s.facebook_email !== false && s.facebook_email !== undefined) voter.facebook_email = s.facebook_email;
  if (s.facebook_profile_image_url_https !== false && s.facebook_profile_image_url_https !== undefined) {
    voter.facebook_profile_image_url_https = s.facebook_profile_image_url_https;
  }
  if (s.twitter_profile_image_url_https !== false && s.twitter_profile_image_url_https !== undefined) {
    voter.twitter_profile_image_url_https = s.twitter_profile_image_url_https;
    // the server bug: this branch also assigns last_name, which is False when not sent
    voter.last_name = last === false ? 'False' : last;
  }
  voter.interface_status_flags = bits(voter.interface_status_flags, ints.interface_status_flags, ints.flag_integer_to_set, ints.flag_integer_to_unset);
  voter.notification_settings_flags = bits(
    voter.notification_settings_flags,
    ints.notification_settings_flags,
    ints.notification_flag_integer_to_set,
    ints.notification_flag_integer_to_unset,
  );
}

/** A whole value wins and set/unset are then ignored; otherwise set, then unset. */
function bits(current: number, whole: number | undefined, set: number | undefined, unset: number | undefined): number {
  if (whole !== undefined) return whole;
  let flags = current;
  if (set) flags |= set;
  if (unset) flags = ~unset & flags;
  return flags;
}
