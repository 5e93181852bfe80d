/**
 * The `wevote` connector: push only, since WeVote has no API that lists voters
 * (API-NOTES.md section 4). Each member goes out as one voterUpdate POST that finds
 * the voter by management_api_key + email_address (verified e-mail) or phone_number
 * (SMS-verified, E.164), as wevote-voterUpdate.txt gives them (creating it when the
 * connection's `createAccount` option is on), with names and photo URLs gated by `*_changed` flags
 * and the flag integers sent as bit set/unset operations.
 *
 * The remote id is the voter's we_vote_id when the answer carries one (the documented
 * answer does not; see simulator.ts), else the one the link already had.
 */
import { ConfigError, UpstreamError } from '../../errors.js';
import type { Connector, ConnectorContext, DeleteItem, DeleteResult, PushItem, PushResult } from '../types.js';
import { eachDelete } from '../delete-results.js';
import { optionsReader } from '../once-per.js';
import { VOTER_UPDATE_API_PATH, WEVOTE_CREDENTIAL_KEYS, voterUpdate, wevoteClient, wevoteCredentials } from './client.js';
import { toWeVoteForm } from './mapping.js';
import { wevoteOptionsSchema, type WeVoteForm, type WeVoteOptions } from './types.js';

const optionsOf = optionsReader<WeVoteOptions>('wevote', wevoteOptionsSchema);

/** The payload is ours (toRemote), but it passed through storage: keep text and numbers only. */
function formOf(payload: Record<string, unknown>): WeVoteForm {
  const out: WeVoteForm = {};
  for (const [k, v] of Object.entries(payload)) if (typeof v === 'string' || typeof v === 'number') out[k] = v;
  return out;
}

async function push(ctx: ConnectorContext, item: PushItem): Promise<PushResult> {
  const o = optionsOf(ctx);
  const creds = wevoteCredentials(ctx);
  const client = wevoteClient(ctx);
  const form = formOf(item.payload);
  if (!form.email_address && !form.phone_number) {
    return { success: true, action: 'skipped', reason: 'no email or E.164 phone to find the voter by', requests: 0 };
  }
  const counter = { requests: 0 };
  try {
    const res = await voterUpdate(client, creds, form, { createAccount: o.createAccount, counter, signal: ctx.signal });
    const remoteId = res.we_vote_id ?? res.voter_we_vote_id ?? item.remoteId;
    return { success: true, action: res.voter_created ? 'created' : 'updated', ...(remoteId ? { remoteId } : {}), requests: counter.requests };
  } catch (err) {
    return { success: false, error: err instanceof Error ? err : new Error(String(err)), requests: counter.requests };
  }
}

/**
 * One voterUpdate that changes nothing: a bad device id or management key fails;
 * an unknown probe address is fine (the key was accepted before the lookup).
 */
/**
 * voterUpdate with the management key and an address nobody has, changing nothing: the
 * device id and the key are accepted when the answer is "voter not found". That is all a
 * push needs (WeVote has nothing to pull).
 */
async function check(ctx: ConnectorContext): Promise<string> {
  const creds = wevoteCredentials(ctx);
  try {
    await wevoteClient(ctx).request({
      method: 'POST',
      path: VOTER_UPDATE_API_PATH,
      form: {
        voter_device_id: creds.voterDeviceId,
        api_key: creds.apiKey,
        management_api_key: creds.managementApiKey,
        email_address: 'member-sync-check@invalid.example',
      },
      signal: ctx.signal,
    });
  } catch (err) {
    // the probe address is unknown by design: "not found" means the key was accepted
    if (err instanceof UpstreamError && err.kind === 'not_found') return 'voterUpdate: device id and management key accepted';
    throw err;
  }
  return 'voterUpdate: device id and management key accepted';
}

/**
 * `voterUpdate` with `delete_voter_account=true`, the voter found as a push finds it (the
 * management key with the e-mail, else the phone, last pushed or known): deleted for good.
 * A voter not found is deleted already.
 */
async function deleteMembers(ctx: ConnectorContext, items: DeleteItem[]): Promise<DeleteResult[]> {
  const creds = wevoteCredentials(ctx);
  const client = wevoteClient(ctx);
  return eachDelete(items, async (item, counter) => {
    const email = (item.payload?.email_address as string | undefined) ?? item.member.email ?? undefined;
    const phone = (item.payload?.phone_number as string | undefined) ?? undefined;
    if (!email && !phone) throw new Error('no e-mail or phone known for this voter: WeVote finds voters by nothing else');
    const form: WeVoteForm = { delete_voter_account: 'true' };
    if (email) form.email_address = email;
    if (phone) form.phone_number = phone;
    const res = await voterUpdate(client, creds, form, { counter, signal: ctx.signal });
    if (res && (res as { voter_deleted?: boolean }).voter_deleted !== true) throw new UpstreamError({ connection: ctx.name, kind: 'other', message: `voterUpdate did not delete the voter: ${res.status ?? ''}`.trim() });
    return true;
  });
}

export const wevoteConnector: Connector<WeVoteOptions> = {
  kind: 'wevote',
  optionsSchema: wevoteOptionsSchema,
  credentialKeys: WEVOTE_CREDENTIAL_KEYS,
  check,
  toRemote: (member, options) => toWeVoteForm(member, options),
  push,
  deleteMembers,
};
