/**
 * convio: Blackbaud/Convio Luminate Online, server Constituent API (SRConsAPI).
 *
 * baseUrl: `https://<secure-domain>/<org>/site` (the client posts to `<baseUrl>/SRConsAPI`).
 * credentials: `apiKey` (CONVIO_API_KEY), `loginName`, `loginPassword` (an admin API user).
 * options:
 *   - groupIds: number[] — groups pulled with getGroupMembers, and the groups this
 *     connection manages on push (membership removed when a member's known `groups`
 *     list leaves them out).
 *   - createMissing: boolean (default true) — createOrUpdate people Convio does not have.
 *   - pageSize: 1..1000 (default 1000) — max_number per getGroupMembers call.
 *   - pagingExtension: boolean (default false) — see below.
 *
 * Pull: getGroupMembers per configured group, max 1000 people a call. The real API has
 * NO paging ("Convio may limit returns"): with pagingExtension off (the default, and the
 * only setting for a real site) one call per group is made and a warning is logged when
 * a group fills the cap. SIMULATOR EXTENSION: with pagingExtension on, the calls carry
 * `list_page_offset`/`list_page_size` (the style of Convio's list methods), which only
 * our simulator honours on getGroupMembers. A person in two groups is yielded once.
 * Cursor: `{ groupId, offset }` of the next call; `{ complete: true }` after the last page
 * (Convio has no change feed, so resuming a complete pull starts a fresh full one).
 *
 * Push: `update`, looked up by cons_id (the link's remote id, else the member's cons_id),
 * else member_id, else primary_email; on "not found" (16) and createMissing,
 * `createOrUpdate` by member_id/primary_email. A member with no cons_id, no link and no
 * e-mail is skipped up front (`toRemote`): Convio could neither find it for sure nor add
 * it. Per-member failures are returned, not thrown.
 */
import { z } from 'zod';
import { ConnectionError, UpstreamError } from '../../errors.js';
import type { Member } from '../../types.js';
import type { CheckNeeds, Connector, ConnectorContext, DeleteItem, DeleteResult, PullOptions, PullPage, PushItem, PushResult } from '../types.js';
import { eachDelete } from '../delete-results.js';
import { convioApi, type ConvioApi } from './client.js';
import { groupMemberToInput, memberToConvio } from './mapping.js';
import type { ConvioForm } from './types.js';
import { oncePer, optionsReader } from '../once-per.js';

export const convioOptionsSchema = z
  .object({
    groupIds: z.array(z.number().int().positive()).default([]),
    createMissing: z.boolean().default(true),
    pageSize: z.number().int().min(1).max(1000).default(1000),
    pagingExtension: z.boolean().default(false),
  })
  .strict();
export type ConvioOptions = z.infer<typeof convioOptionsSchema>;

const MAX_NUMBER = 1000;

const cursorSchema = z.union([
  z.object({ complete: z.literal(true) }),
  z.object({ groupId: z.number(), offset: z.number().int().nonnegative() }),
]);

/** Options parsed once per connection config, not once per member. */
const optionsOf = optionsReader<ConvioOptions>('convio', convioOptionsSchema);

/** One API object per push context (so per push), not one per member. */
const apiOf = oncePer((ctx: ConnectorContext): ConvioApi => convioApi(ctx));

async function* pull(ctx: ConnectorContext, opts: PullOptions): AsyncGenerator<PullPage> {
  const options = optionsOf(ctx);
  const api = convioApi(ctx);
  const parsed = cursorSchema.safeParse(opts.cursor);
  let startGroup = 0;
  let startOffset = 0;
  if (parsed.success && 'groupId' in parsed.data) {
    const i = options.groupIds.indexOf(parsed.data.groupId);
    if (i >= 0) [startGroup, startOffset] = [i, parsed.data.offset];
  }
  if (options.groupIds.length === 0) {
    ctx.log.warn({ connection: ctx.name }, 'convio pull has no options.groupIds: getGroupMembers is the only bulk read, so nothing is pulled');
  }
  const seen = new Set<string>();
  let index = 0;
  const pageSize = options.pagingExtension ? options.pageSize : Math.min(options.pageSize, MAX_NUMBER);
  for (let g = startGroup; g < options.groupIds.length; g++) {
    const groupId = options.groupIds[g];
    for (let offset = g === startGroup ? startOffset : 0; ; ) {
      const members = await api.getGroupMembers(groupId, { maxNumber: pageSize, offset: options.pagingExtension ? offset : undefined });
      const more = options.pagingExtension && members.length >= pageSize;
      const capped = !options.pagingExtension && members.length >= pageSize;
      if (capped) {
        ctx.log.warn({ connection: ctx.name, groupId, returned: members.length }, 'convio group reached the getGroupMembers cap; people past it are not pulled');
      }
      const records = [];
      for (const m of members) {
        const rec = groupMemberToInput(m, ++index);
        const id = rec.ref.externalId;
        if (id !== undefined) {
          if (seen.has(id)) continue;
          seen.add(id);
        }
        records.push(rec);
      }
      offset += members.length;
      const last = !more && g === options.groupIds.length - 1;
      const cursor = last ? { complete: true } : more ? { groupId, offset } : { groupId: options.groupIds[g + 1], offset: 0 };
      yield { records, cursor, ...(capped ? { partial: true } : {}) };
      if (!more) break;
    }
  }
}

/** Why Convio cannot take a member, when it cannot: decided before any request. */
export const CONVIO_NO_EMAIL = 'no e-mail: Convio adds constituents only with a primary_email, and no cons_id or Convio link says which one to update';

function toRemote(member: Member, options: ConvioOptions, remote?: { remoteId?: string }): Record<string, unknown> | { skip: string } {
  const form = memberToConvio(member, { groupIds: options.groupIds });
  // without a cons_id Convio finds people by member_id or e-mail, and adds them only with
  // an e-mail (code 10, a 403): a member with neither a cons_id nor an e-mail is refused
  // every time, so it is skipped up front and shown with this reason in plans and summaries
  if (!member.cons_id && !remote?.remoteId && !form.primary_email) return { skip: CONVIO_NO_EMAIL };
  return form;
}

function asForm(payload: Record<string, unknown>): ConvioForm {
  const form: ConvioForm = {};
  for (const [k, v] of Object.entries(payload)) if (typeof v === 'string' || typeof v === 'number') form[k] = String(v);
  return form;
}

async function push(ctx: ConnectorContext, item: PushItem): Promise<PushResult> {
  const counter = { requests: 0 };
  try {
    const options = optionsOf(ctx);
    const api = apiOf(ctx);
    const form = asForm(item.payload);
    const consId = item.remoteId ?? item.member.cons_id ?? undefined;
    const lookup = consId ? { cons_id: consId } : form.member_id ? { member_id: form.member_id } : { primary_email: form.primary_email };
    try {
      const res = await api.update(lookup, form, { counter });
      return { success: true, action: 'updated', remoteId: res.consId ?? consId, requests: counter.requests };
    } catch (err) {
      if (!(err instanceof UpstreamError) || err.kind !== 'not_found') throw err;
      if (!options.createMissing) return { success: true, action: 'skipped', reason: 'not in Convio and createMissing is off', requests: counter.requests };
      if (!form.member_id && !form.primary_email) throw err;
    }
    const res = await api.createOrUpdate(form, { counter });
    const action = /updated/i.test(res.message ?? '') ? 'updated' : 'created';
    return { success: true, action, remoteId: res.consId, requests: counter.requests };
  } catch (err) {
    return { success: false, error: err instanceof Error ? err : new Error(String(err)), requests: counter.requests };
  }
}

/**
 * listUserFields proves the key, the login, the caller's IP and the "Use Convio API"
 * right (codes 2, 3, 4, 5). A pull also needs each configured group (getGroupMembers, one
 * member); a push needs getUser and update, probed with a getUser of an address nobody
 * has: "not found" (16) means the method is allowed; 14 or 5 mean it is not.
 */
async function check(ctx: ConnectorContext, needs: CheckNeeds = { pull: true, push: true }): Promise<string> {
  const api = convioApi(ctx);
  const done = ['listUserFields'];
  await api.listUserFields({ signal: ctx.signal });
  if (needs.pull) {
    for (const groupId of optionsOf(ctx).groupIds) {
      try {
        await api.getGroupMembers(groupId, { maxNumber: 1 }, { signal: ctx.signal });
      } catch (err) {
        if (err instanceof UpstreamError && !(err instanceof ConnectionError)) throw new Error(`group ${groupId} of options.groupIds: ${err.message}`, { cause: err });
        throw err;
      }
    }
    done.push(`getGroupMembers (${optionsOf(ctx).groupIds.length} group(s))`);
  }
  if (needs.push) {
    try {
      await api.getUser({ primary_email: 'member-sync-check@invalid.example' }, { signal: ctx.signal });
    } catch (err) {
      if (!(err instanceof UpstreamError && err.kind === 'not_found')) throw err;
    }
    done.push('getUser');
  }
  return done.join(', ');
}

/**
 * Convio's API deletes no constituent: a member removed here leaves the connection's
 * groups (`update` with `remove_group_ids` = options.groupIds), so the next pull no longer
 * lists them; the constituent stays in Convio (gone: false).
 */
async function deleteMembers(ctx: ConnectorContext, items: DeleteItem[]): Promise<DeleteResult[]> {
  const options = optionsOf(ctx);
  const api = apiOf(ctx);
  return eachDelete(items, async (item, counter) => {
    if (options.groupIds.length === 0) throw new Error("no options.groupIds: Convio's API deletes no constituent, and there is no group to remove them from");
    const consId = item.remoteId ?? item.member.cons_id ?? undefined;
    if (!consId) throw new Error('no cons_id known for this member: nothing to remove from the groups by');
    await api.update({ cons_id: consId }, { remove_group_ids: options.groupIds.join(',') }, { counter, signal: ctx.signal });
    return false;
  });
}

export const convioConnector: Connector<ConvioOptions> = {
  kind: 'convio',
  optionsSchema: convioOptionsSchema,
  credentialKeys: ['apiKey', 'loginName', 'loginPassword'],
  check,
  pull,
  toRemote,
  push,
  deleteMembers,
};

export { convioApi, decodeConvioError, convioErrorKind } from './client.js';
export { consToInput, groupMemberToInput, memberToConvio } from './mapping.js';
export { startConvioSimulator, type ConvioSimulatorOptions } from './simulator.js';
