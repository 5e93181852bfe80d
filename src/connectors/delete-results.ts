/** Shared by the connectors' deletes: a failure is a member's result, unless it is the connection's. */
import { ConnectionError, UpstreamError } from '../errors.js';
import type { DeleteItem, DeleteResult } from './types.js';

/** A member the system no longer has is deleted already. */
export function isGoneThere(err: unknown): boolean {
  return err instanceof UpstreamError && err.kind === 'not_found';
}

/** Delete one item at a time with `one`; a connection failure stops them all (thrown). */
export async function eachDelete(items: DeleteItem[], one: (item: DeleteItem, counter: { requests: number }) => Promise<boolean>): Promise<DeleteResult[]> {
  const out: DeleteResult[] = [];
  for (const item of items) {
    const counter = { requests: 0 };
    try {
      out.push({ success: true, gone: await one(item, counter), requests: counter.requests });
    } catch (err) {
      if (err instanceof ConnectionError) throw err;
      if (isGoneThere(err)) out.push({ success: true, gone: true, requests: counter.requests });
      else out.push({ success: false, error: err instanceof Error ? err : new Error(String(err)), requests: counter.requests });
    }
  }
  return out;
}
