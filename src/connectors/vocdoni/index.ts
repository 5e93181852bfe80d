/**
 * The `vocdoni` connector (Vocdoni SaaS backend, API-NOTES.md section 5).
 *
 * Pull walks `GET members` page by page; the cursor is the page to read next.
 *
 * Push (push.ts): the organization's list is read once per push, new members are
 * bulk-added (`POST members?async=true`, the job polled) and updates go out as one `PUT`
 * each; memberNumber stays unique although bulk add is insert-only. Before the first push
 * the organization's all-members group is found, or created.
 */
import { notTheFormat, paginatePages, type NumberedPage } from '../../http/index.js';
import { ConnectionError } from '../../errors.js';
import type { Connector, ConnectorContext, DeleteItem, DeleteResult, PullOptions, PullPage } from '../types.js';
import { VOCDONI_CREDENTIAL_KEYS, isPageNotFound } from './client.js';
import { fromOrgMember, toOrgMember } from './mapping.js';
import { prepareBatch, push, setup } from './push.js';
import { vocdoniOptionsSchema, type OrgMember, type VocdoniCursor, type VocdoniOptions } from './types.js';

async function* pull(ctx: ConnectorContext, opts: PullOptions): AsyncGenerator<PullPage> {
  const { o, api } = setup(ctx);
  const c = opts.cursor as VocdoniCursor | undefined;
  const startPage = c && typeof c.page === 'number' && c.page >= 1 ? Math.floor(c.page) : 1;
  const pages = paginatePages({
    startPage,
    pageSize: o.pageSize,
    fetchPage: async (page) => {
      const res = await api.listMembers({ page, limit: o.pageSize }, { signal: ctx.signal });
      return { items: res.members ?? [], lastPage: res.pagination?.lastPage };
    },
  });
  while (true) {
    let next: IteratorResult<NumberedPage<OrgMember>>;
    try {
      next = await pages.next();
    } catch (err) {
      // the list shrank under a resumed cursor: nothing is left to read
      if (isPageNotFound(err)) {
        yield { records: [], cursor: null satisfies VocdoniCursor };
        return;
      }
      throw err;
    }
    if (next.done) return;
    const { page, items, nextPage } = next.value;
    const records = items.map((m, k) => {
      const rec = fromOrgMember(m);
      rec.ref = { ...rec.ref, index: (page - 1) * o.pageSize + k + 1 };
      return rec;
    });
    const cursor: VocdoniCursor = nextPage === undefined ? null : { page: nextPage };
    yield { records, cursor };
  }
}

/** Delete members by their Vocdoni ids (unknown ids are ignored by the backend). */
export async function removeVocdoniMembers(ctx: ConnectorContext, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { api } = setup(ctx);
  return (await api.deleteMembers(ids, { signal: ctx.signal })).count;
}

/** `DELETE members {ids}`: one request for the batch; ids the backend does not know are ignored (deleted already). */
async function deleteMembers(ctx: ConnectorContext, items: DeleteItem[]): Promise<DeleteResult[]> {
  const ids = items.flatMap((i) => (i.remoteId ? [i.remoteId] : []));
  let failed: Error | undefined;
  if (ids.length > 0) {
    try {
      await removeVocdoniMembers(ctx, ids);
    } catch (err) {
      if (err instanceof ConnectionError) throw err;
      failed = err instanceof Error ? err : new Error(String(err));
    }
  }
  let first = true;
  return items.map((i): DeleteResult => {
    if (!i.remoteId) return { success: false, error: new Error('no Vocdoni id known for this member: nothing to delete by'), requests: 0 };
    const requests = first ? 1 : 0;
    first = false;
    return failed ? { success: false, error: failed, requests } : { success: true, gone: true, requests };
  });
}

export const vocdoniConnector: Connector<VocdoniOptions> = {
  kind: 'vocdoni',
  optionsSchema: vocdoniOptionsSchema,
  credentialKeys: VOCDONI_CREDENTIAL_KEYS,
  // members and groups routes need the Manager or Admin role on the organization: a list
  // of one member proves the token and the role; a push also manages the all-members group
  async check(ctx, needs = { pull: true, push: true }) {
    const { api, o } = setup(ctx);
    const page = await api.listMembers({ page: 1, limit: 1 }, { signal: ctx.signal });
    if (!page || typeof page !== 'object' || !Array.isArray(page.members)) throw notTheFormat(ctx.name, undefined, 'GET members: the answer is not a Vocdoni members page');
    if (needs.push) await api.listGroups({ page: 1, limit: 1 }, { signal: ctx.signal });
    return `members${needs.push ? ', groups' : ''} of ${o.organizationAddress}: ${page.pagination?.totalItems ?? '?'} member(s)`;
  },
  pull,
  toRemote: (member) => toOrgMember(member) as Record<string, unknown>,
  push,
  prepareBatch,
  deleteMembers,
};
