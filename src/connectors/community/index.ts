/**
 * The `community` connector (GNOSS-style platform, API-NOTES.md section 3).
 *
 * Pull: the first pull lists every member's user_id from get-community-information;
 * later pulls ask get-modified-users for the ids changed since the last pull's start, less
 * `lookbackSeconds` (the server's clock may be behind ours; a user read again is unchanged).
 * Each id is read with get-by-id. There is no pagination upstream, so pages are slices
 * of the id list and the cursor remembers how far a cut-short listing got.
 *
 * Push: modify-user only updates users that are already in the community (it needs
 * their user_id), so a member without a link is skipped, not created.
 *
 * Config errors (bad options, missing credentials) are thrown; a member's failure is
 * returned as a PushResult.
 */
import { ConfigError, UpstreamError } from '../../errors.js';
import type { InputRecord } from '../../types.js';
import type { Connector, ConnectorContext, DeleteItem, DeleteResult, PullOptions, PullPage, PushItem, PushResult } from '../types.js';
import { eachDelete } from '../delete-results.js';
import { optionsReader } from '../once-per.js';
import { COMMUNITY_CREDENTIAL_KEYS, checkCommunity, communityClient, getCommunityInformation, getModifiedUsers, getUserById, modifyUser } from './client.js';
import { fromCommunityUser, toCommunityUser } from './mapping.js';
import { communityOptionsSchema, type CommunityCursor, type CommunityOptions } from './types.js';

const optionsOf = optionsReader<CommunityOptions>('community', communityOptionsSchema);

/** A stored cursor of an unknown shape restarts with a full listing. */
function readCursor(cursor: unknown): CommunityCursor {
  if (typeof cursor === 'string' && cursor !== '') return { searchDate: cursor };
  if (!cursor || typeof cursor !== 'object') return {};
  const c = cursor as Record<string, unknown>;
  const out: CommunityCursor = {};
  if (typeof c.searchDate === 'string') out.searchDate = c.searchDate;
  if (typeof c.startedAt === 'string') out.startedAt = c.startedAt;
  if (typeof c.offset === 'number' && c.offset >= 0) out.offset = c.offset;
  return out;
}

/**
 * The search date to ask from: the cursor (our clock at the last pull's start) less the
 * lookback, because the server stamps changes with its own clock, and one behind ours
 * would stamp a change made after our cursor with an earlier time. A cursor that is not a
 * date is passed on as it is (the server says what is wrong with it).
 */
function lookBack(searchDate: string, seconds: number): string {
  const at = Date.parse(searchDate);
  return Number.isNaN(at) || seconds === 0 ? searchDate : new Date(at - seconds * 1000).toISOString();
}

/** A user listed a moment ago can be gone (deleted, or left the community) by now. */
function isGone(err: unknown): boolean {
  return err instanceof UpstreamError && err.kind === 'not_found';
}

async function* pull(ctx: ConnectorContext, opts: PullOptions): AsyncGenerator<PullPage> {
  const o = optionsOf(ctx);
  const client = communityClient(ctx);
  const call = { signal: ctx.signal };
  const prev = readCursor(opts.cursor);
  const resuming = prev.startedAt !== undefined;
  const since = prev.searchDate;
  // taken before listing, so changes made while we read are seen by the next pull
  const startedAt = prev.startedAt ?? new Date().toISOString();
  const ids = since
    ? await getModifiedUsers(client, o.communityShortName, lookBack(since, o.lookbackSeconds), call)
    : (await getCommunityInformation(client, o.communityShortName, call)).users;
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  const start = resuming ? Math.min(prev.offset ?? 0, unique.length) : 0;

  if (start >= unique.length) {
    yield { records: [], cursor: { searchDate: startedAt } };
    return;
  }
  for (let i = start; i < unique.length; i += o.pageSize) {
    const slice = unique.slice(i, i + o.pageSize);
    // the client's limiter bounds how many of these are in flight
    const users = await Promise.all(
      slice.map((id) =>
        getUserById(client, id, o.communityShortName, call).catch((err: unknown) => {
          if (isGone(err)) return undefined;
          throw err;
        }),
      ),
    );
    const records: InputRecord[] = [];
    users.forEach((user, k) => {
      if (!user) return;
      const rec = fromCommunityUser(user);
      rec.ref = { ...rec.ref, externalId: rec.ref.externalId ?? slice[k], index: i + k + 1 };
      records.push(rec);
    });
    const next = i + o.pageSize;
    const cursor: CommunityCursor = next >= unique.length ? { searchDate: startedAt } : { ...(since ? { searchDate: since } : {}), startedAt, offset: next };
    yield { records, cursor };
  }
}

const COMMUNITY_NO_USER = 'no community user_id: modify-user cannot add people to the community';

async function push(ctx: ConnectorContext, item: PushItem): Promise<PushResult> {
  const o = optionsOf(ctx);
  const client = communityClient(ctx);
  if (!item.remoteId) return { success: true, action: 'skipped', reason: COMMUNITY_NO_USER, requests: 0 };
  const counter = { requests: 0 };
  try {
    await modifyUser(
      client,
      { ...item.payload, user_id: item.remoteId, community_id: o.communityId, community_short_name: o.communityShortName },
      { counter, signal: ctx.signal },
    );
    return { success: true, action: 'updated', remoteId: item.remoteId, requests: counter.requests };
  } catch (err) {
    return { success: false, error: err instanceof Error ? err : new Error(String(err)), requests: counter.requests };
  }
}

/**
 * `POST user/delete-user-from-community` with `{user_short_name, community_short_name}`
 * (GNOSS's BorrarUsuarioDeComunidad: the user leaves the community, the account stays).
 * The call takes the short name, so the user is read by id first; a user no longer in the
 * community is deleted already.
 */
async function deleteMembers(ctx: ConnectorContext, items: DeleteItem[]): Promise<DeleteResult[]> {
  const o = optionsOf(ctx);
  const client = communityClient(ctx);
  return eachDelete(items, async (item, counter) => {
    if (!item.remoteId) throw new Error('no community user_id known for this member: nothing to delete by');
    let user;
    try {
      user = await getUserById(client, item.remoteId, o.communityShortName, { counter, signal: ctx.signal });
    } catch (err) {
      if (isGone(err)) return true;
      throw err;
    }
    if (!user.user_short_name) throw new Error(`get-by-id gave no user_short_name for ${item.remoteId}`);
    await client.request({ method: 'POST', path: 'user/delete-user-from-community', json: { user_short_name: user.user_short_name, community_short_name: o.communityShortName }, counter, signal: ctx.signal });
    return true;
  });
}

export const communityConnector: Connector<CommunityOptions> = {
  kind: 'community',
  optionsSchema: communityOptionsSchema,
  credentialKeys: COMMUNITY_CREDENTIAL_KEYS,
  // the cursor is a get-modified-users search date: a finished pull continues from it
  incremental: true,
  check: (ctx, needs = { pull: true, push: true }) => checkCommunity(communityClient(ctx), optionsOf(ctx), needs, { signal: ctx.signal }),
  pull,
  // modify-user needs the user_id: a member with no link is skipped up front, visible in plans
  toRemote: (member, options, remote) => (remote?.remoteId ? (toCommunityUser(member, options) as Record<string, unknown>) : { skip: COMMUNITY_NO_USER }),
  push,
  deleteMembers,
};
