/**
 * A connector's bulk step inside a push (`Connector.prepareBatch`): for a batch of
 * selected members it settles what is cheaper done for all at once — Vocdoni reads the
 * organization's list once and bulk-adds the new people in one job — and hands back the
 * rest to be sent one by one, with the remote id it found. Settled members become
 * outcomes like the ones `sendBatch` makes, so they are recorded and counted the same way.
 */
import type { PreparedBatch, PreparedItem, PushItem } from '../connectors/types.js';
import type { FailureStreak, Halt, SendJob, SendOutcome } from './push-send.js';

export interface PreparedJobs {
  /** settled by the bulk step */
  done: SendOutcome[];
  /** still to send through the connector's `push` */
  send: SendJob[];
  /** requests of the bulk step that no item's result counts */
  requests: number;
  /** the failures of the bulk step alone took the destination for down */
  halt?: Halt;
}

export async function prepareJobs(jobs: SendJob[], prepare: (items: PushItem[]) => Promise<PreparedBatch>, streak?: FailureStreak): Promise<PreparedJobs> {
  if (jobs.length === 0) return { done: [], send: [], requests: 0 };
  let prepared: PreparedItem[];
  let requests = 0;
  try {
    ({ items: prepared, requests } = await prepare(jobs.map((j) => ({ member: j.member, remoteId: j.remoteId, payload: j.payload }))));
  } catch (err) {
    // a connector returns its failures; one that throws fails the whole batch alike
    const error = err instanceof Error ? err : new Error(String(err));
    prepared = jobs.map(() => ({ done: { success: false, error, requests: 0 } }));
  }
  if (prepared.length !== jobs.length) throw new Error(`prepareBatch returned ${prepared.length} items for ${jobs.length}`);
  const out: PreparedJobs = { done: [], send: [], requests };
  prepared.forEach((p, i) => {
    const job = jobs[i];
    if ('done' in p) {
      const r = p.done;
      // a failure of the connection itself (credentials, DNS, TLS: code E_CONNECTION) says
      // nothing about the member: it is left as it was, and the push stops with it
      if (!r.success && (r.error as { code?: string }).code === 'E_CONNECTION') {
        out.done.push({ job });
        const halt = { reason: r.error.message, connection: r.error };
        out.halt ??= halt;
        return;
      }
      out.done.push({ job, result: r });
      out.halt ??= streak?.add(r);
    } else {
      out.send.push({ ...job, remoteId: p.send.remoteId });
    }
  });
  return out;
}
