/**
 * What a push does with one member, decided without I/O: the payload its connector
 * maps it to, a stable hash of that payload, and whether that differs from what the
 * remote last got. Also the field-by-field diff a dry run prints.
 */
import { createHash } from 'node:crypto';
import type { Member } from '../types.js';

/**
 * push_state.status:
 * - ok: the remote holds the payload whose hash is stored
 * - failed: a permanent error (4xx, validation, duplicate); retried only when the
 *   payload changes or with --retry-failed
 * - pending: a transient error that outlasted the retries, or a push cut short; always
 *   sent again by the next push
 * - skipped: the connector declined (no key the system needs); reason in last_error
 */
export type PushStatus = 'ok' | 'failed' | 'pending' | 'skipped';

export interface PushCandidate {
  member: Member;
  /** push_state of this member at this connection, if any */
  state?: { remoteId: string | null; hash: string | null; status: PushStatus; payload: Record<string, unknown> | null };
  /** the newest link of this member at this connection */
  linkId?: string;
}

export interface FieldDiff {
  field: string;
  old: unknown;
  new: unknown;
}

export type PushDecision =
  | { kind: 'unchanged'; heldFailed: boolean; heldSkip?: string }
  | { kind: 'skip'; reason: string; hash: string }
  | { kind: 'send'; action: 'create' | 'update'; payload: Record<string, unknown>; hash: string; remoteId?: string; changes?: FieldDiff[] };

/** JSON with object keys sorted at every depth, so equal payloads hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i] === undefined ? null : value[i]);
    return out + ']';
  }
  const obj = value as Record<string, unknown>;
  // sort() compares UTF-16 code units, as `<` does: the same order the hashes were made with
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += (out.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + canonicalJson(v);
  }
  return out + '}';
}

export function payloadHash(payload: unknown): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

/** Nested objects as dotted keys (`user.email`); arrays stay whole values. */
export function flattenPayload(value: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flattenPayload(v as Record<string, unknown>, key, out);
    else if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Fields whose value differs between the last pushed payload and the next one. */
export function diffPayloads(old: Record<string, unknown> | null | undefined, next: Record<string, unknown>): FieldDiff[] {
  const a = flattenPayload(old ?? {});
  const b = flattenPayload(next);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const diffs: FieldDiff[] = [];
  for (const k of keys) {
    if (canonicalJson(a[k]) !== canonicalJson(b[k])) diffs.push({ field: k, old: a[k] ?? null, new: b[k] ?? null });
  }
  return diffs;
}

export type ToRemote = (member: Member, remote?: { remoteId?: string }) => Record<string, unknown> | { skip: string };

function isSkip(r: Record<string, unknown>): r is { skip: string } {
  return Object.keys(r).length === 1 && typeof r.skip === 'string';
}

/**
 * The decision for one member. `retryFailed` sends permanent failures whose payload is
 * unchanged; `withChanges` adds the field-by-field diff against the last payload sent
 * (for a plan: a push that prints none does not pay for it).
 */
export function decidePush(c: PushCandidate, toRemote: ToRemote, retryFailed: boolean, withChanges = true): PushDecision {
  const state = c.state;
  const remoteId = state?.remoteId ?? c.linkId ?? undefined;
  const remote = toRemote(c.member, { remoteId });
  if (isSkip(remote)) {
    // hashed too, so a member skipped for the same reason is not written again each push
    const hash = payloadHash({ $skip: remote.skip });
    if (state?.hash === hash && state.status === 'skipped') return { kind: 'unchanged', heldFailed: false, heldSkip: remote.skip };
    return { kind: 'skip', reason: remote.skip, hash };
  }
  const hash = payloadHash(remote);
  if (state && state.hash === hash) {
    if (state.status === 'ok') return { kind: 'unchanged', heldFailed: false };
    if (state.status === 'failed' && !retryFailed) return { kind: 'unchanged', heldFailed: true };
    // a connector that declined for want of a remote id gets another chance once a link exists
    if (state.status === 'skipped' && !(remoteId && !state.remoteId)) return { kind: 'unchanged', heldFailed: false };
  }
  const send = { kind: 'send', action: remoteId ? 'update' : 'create', payload: remote, hash, remoteId } as const;
  return withChanges ? { ...send, changes: diffPayloads(state?.payload, remote) } : send;
}

/** How a person reads a member in a plan: the strongest key it has. */
export function memberLabel(m: Member): string {
  return m.member_id ?? m.email ?? m.cons_id ?? m.id;
}
