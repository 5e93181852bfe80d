/**
 * ikanow: IKANOW Infinit.e social/person API.
 *
 * baseUrl: the API root, e.g. `https://infinite.example.com/api` (routes hang off it:
 *   `social/person/list`, `auth/login/...`).
 * credentials: `apiKey` (sent as the `inf_token` header), OR `username` + `password`
 *   (logged in for a session cookie; only the SHA-256/base64 of the password is sent).
 *   Either pair will do, so `credentialKeys` lists none as individually required.
 *   The caller must be an IKANOW admin: register, update and get of others need it.
 * options:
 *   - createMissing: boolean (default true) — `register` people IKANOW does not have.
 *   - pageSize: number (default 500) — records per PullPage.
 *
 * Pull: `social/person/list`, which has no paging in IKANOW; the one answer is sorted by
 * `_id` (ObjectIds grow with time) and cut into pages of `pageSize`. Cursor:
 * `{ afterId }` of the last person yielded, so a resumed pull skips what it committed
 * and still sees people added since; `{ complete: true }` after the last page (the next
 * pull is a full one again: IKANOW has no change feed).
 *
 * Push: find the person (`social/person/get/{remoteId}`, else `get/{email}`), then
 * `social/person/update` with that person's WPUserID and, when the e-mail changes, the
 * old e-mail as `auth.username`; a person not found is `register`ed with a random
 * password hash (createMissing). remoteId = `_id`. Two requests per member.
 * register is not idempotent, so it is never re-sent blindly: after a timeout, reset or
 * 5xx the person is looked up by e-mail first (the lost attempt may have registered
 * them), and a "User already exists" answer is followed by that lookup and an update.
 */
import { z } from 'zod';
import { ConnectionError, UpstreamError } from '../../errors.js';
import { retryUnlessApplied } from '../../http/index.js';
import type { Member } from '../../types.js';
import type { CheckNeeds, Connector, ConnectorContext, DeleteItem, DeleteResult, PullOptions, PullPage, PushItem, PushResult } from '../types.js';
import { eachDelete } from '../delete-results.js';
import { ikanowApi, randomPasswordHash, type IkanowApi } from './client.js';
import { memberToSetupUser, personToInput } from './mapping.js';
import type { IkanowPerson, IkanowSetupUser } from './types.js';
import { oncePer, optionsReader } from '../once-per.js';

export const ikanowOptionsSchema = z
  .object({
    createMissing: z.boolean().default(true),
    pageSize: z.number().int().min(1).max(100_000).default(500),
  })
  .strict();
export type IkanowOptions = z.infer<typeof ikanowOptionsSchema>;

const cursorSchema = z.union([z.object({ complete: z.literal(true) }), z.object({ afterId: z.string() })]);

async function* pull(ctx: ConnectorContext, opts: PullOptions): AsyncGenerator<PullPage> {
  const { pageSize } = optionsOf(ctx);
  const parsed = cursorSchema.safeParse(opts.cursor);
  const afterId = parsed.success && 'afterId' in parsed.data ? parsed.data.afterId : undefined;
  const byId = new Map<string, IkanowPerson>();
  // a person in several of the caller's communities may be listed more than once
  for (const p of await ikanowApi(ctx).list({ signal: ctx.signal })) if (typeof p._id === 'string') byId.set(p._id, p);
  const people = [...byId.values()].filter((p) => afterId === undefined || p._id > afterId).sort((a, b) => (a._id < b._id ? -1 : 1));
  if (people.length === 0) {
    yield { records: [], cursor: { complete: true } };
    return;
  }
  for (let i = 0; i < people.length; i += pageSize) {
    const slice = people.slice(i, i + pageSize);
    const records = slice.map((p, j) => personToInput(p, i + j + 1));
    const last = i + pageSize >= people.length;
    yield { records, cursor: last ? { complete: true } : { afterId: slice[slice.length - 1]._id } };
  }
}

function toRemote(member: Member): Record<string, unknown> | { skip: string } {
  const user = memberToSetupUser(member);
  if (!user.email) return { skip: 'IKANOW needs an e-mail to find or register a person' };
  return { user };
}

/** Options parsed once per connection config, not once per member. */
const optionsOf = optionsReader<IkanowOptions>('ikanow', ikanowOptionsSchema);

/** One API object per push context (so per push), not one per member. */
const apiOf = oncePer((ctx: ConnectorContext): IkanowApi => ikanowApi(ctx));

async function push(ctx: ConnectorContext, item: PushItem): Promise<PushResult> {
  const counter = { requests: 0 };
  try {
    const { createMissing } = optionsOf(ctx);
    const api = apiOf(ctx);
    const user = ((item.payload as { user?: IkanowSetupUser }).user ?? {}) as IkanowSetupUser;
    const email = user.email?.[0];
    const byEmail = async (): Promise<IkanowPerson | undefined> => (email ? api.get(email, { counter }) : undefined);
    const updateFound = async (found: IkanowPerson): Promise<PushResult> => {
      const setup = {
        user: { ...user, ...(found.WPUserID ? { WPUserID: found.WPUserID } : {}) },
        // without a WPUserID, IKANOW looks up by auth.username: the e-mail it has now
        auth: found.email ? { username: found.email } : {},
      };
      await api.update(setup, { counter });
      return { success: true, action: 'updated', remoteId: found._id, requests: counter.requests };
    };

    const found = (item.remoteId ? await api.get(item.remoteId, { counter }) : undefined) ?? (await byEmail());
    if (found) return await updateFound(found);
    if (!createMissing) return { success: true, action: 'skipped', reason: 'not in IKANOW and createMissing is off', requests: counter.requests };
    const setup = { user, auth: { password: randomPasswordHash(), accountType: 'user', accountStatus: 'ACTIVE' as const } };
    let created: IkanowPerson | undefined;
    try {
      // register is not idempotent: after a lost answer, find the person before registering again
      created = await retryUnlessApplied({
        send: () => api.register(setup, { counter, retry: { maxAttempts: 1 } }),
        applied: byEmail,
        policy: api.http.retryPolicy,
        signal: ctx.signal,
      });
    } catch (err) {
      // "User already exists": registered meanwhile (an answer we lost, or someone else): update that person
      if (!(err instanceof UpstreamError && err.kind === 'duplicate')) throw err;
      const existing = await byEmail();
      if (!existing) throw err;
      return await updateFound(existing);
    }
    return { success: true, action: 'created', remoteId: created?._id, requests: counter.requests };
  } catch (err) {
    return { success: false, error: err instanceof Error ? err : new Error(String(err)), requests: counter.requests };
  }
}

/**
 * `get` with no id answers for the caller: it proves the key or the login. A push also
 * needs an admin (register, update and get of others are admin-only), which the caller's
 * own accountType says; a pull lists what the caller may see, any account will do.
 */
async function check(ctx: ConnectorContext, needs: CheckNeeds = { pull: true, push: true }): Promise<string> {
  const env = await ikanowApi(ctx).call<IkanowPerson>('GET', 'social/person/get', { signal: ctx.signal });
  const type = env.data && typeof env.data === 'object' ? String(env.data.accountType ?? '') : '';
  if (needs.push && type !== 'admin' && type !== 'admin-enabled') {
    throw new ConnectionError({
      connection: ctx.name,
      failure: 'auth',
      message: `the API user is ${type ? `a '${type}' account` : 'of no known account type'}; a push needs an IKANOW admin (register, update and get of others are admin-only)`,
    });
  }
  return `social/person/get: ${type || 'unknown'} account`;
}

/** `GET social/person/delete/{id}` (an ObjectId, WPUserID or e-mail); "Can't find user to delete" is deleted already. */
async function deleteMembers(ctx: ConnectorContext, items: DeleteItem[]): Promise<DeleteResult[]> {
  const api = apiOf(ctx);
  return eachDelete(items, async (item, counter) => {
    const id = item.remoteId ?? item.member.email;
    if (!id) throw new Error('no IKANOW id or e-mail known for this member: nothing to delete by');
    await api.call('GET', `social/person/delete/${encodeURIComponent(id)}`, { counter, signal: ctx.signal });
    return true;
  });
}

export const ikanowConnector: Connector<IkanowOptions> = {
  kind: 'ikanow',
  optionsSchema: ikanowOptionsSchema,
  credentialKeys: [],
  check,
  pull,
  toRemote,
  push,
  deleteMembers,
};

export { decodeIkanowError, hashPassword, ikanowApi, ikanowMessageKind } from './client.js';
export { memberToSetupUser, personToInput } from './mapping.js';
export { startIkanowSimulator, type IkanowSimulatorOptions } from './simulator.js';
