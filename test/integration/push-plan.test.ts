/**
 * The pure part of push (src/pipeline/push-plan.ts): stable hashes, the diff a dry run
 * prints, and the send / skip / unchanged decision. (Pure, so it would sit in test/unit;
 * it lives here with the other push tests while that tree is someone else's.)
 */
import { describe, expect, it } from 'vitest';
import { canonicalJson, decidePush, diffPayloads, payloadHash, type PushCandidate } from '../../src/pipeline/push-plan.js';
import type { Member } from '../../src/types.js';

const member = (values: Partial<Member> = {}): Member => ({ id: 'a0000000-0000-0000-0000-000000000001', provenance: {}, created_run_id: 1, member_id: 'M-1', ...values });
const toRemote = (m: Member) => (m.member_id ? { memberNumber: m.member_id, name: m.first_name ?? undefined } : { skip: 'no member_id' });

describe('push plan', () => {
  it('hashes equal payloads equally whatever the key order, and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe('{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(payloadHash({ a: 1, b: 2 })).toBe(payloadHash({ b: 2, a: 1 }));
    expect(payloadHash({ a: 1 })).not.toBe(payloadHash({ a: '1' }));
  });

  it('diffs nested payloads field by field', () => {
    expect(diffPayloads({ user: { email: ['a@x.org'], firstname: 'A' } }, { user: { email: ['b@x.org'], firstname: 'A', phone: '1' } })).toEqual([
      { field: 'user.email', old: ['a@x.org'], new: ['b@x.org'] },
      { field: 'user.phone', old: null, new: '1' },
    ]);
    expect(diffPayloads(null, { a: 1 })).toEqual([{ field: 'a', old: null, new: 1 }]);
  });

  it('decides create, update, unchanged, held and skip', () => {
    const m = member({ first_name: 'Ann' });
    const hash = payloadHash(toRemote(m));
    const c = (state?: PushCandidate['state'], linkId?: string): PushCandidate => ({ member: m, state, linkId });
    expect(decidePush(c(), toRemote, false)).toMatchObject({ kind: 'send', action: 'create' });
    expect(decidePush(c(undefined, 'remote-1'), toRemote, false)).toMatchObject({ kind: 'send', action: 'update', remoteId: 'remote-1' });
    expect(decidePush(c({ remoteId: 'r', hash, status: 'ok', payload: null }), toRemote, false)).toEqual({ kind: 'unchanged', heldFailed: false });
    expect(decidePush(c({ remoteId: 'r', hash: 'old', status: 'ok', payload: { memberNumber: 'M-1', name: 'An' } }), toRemote, false)).toMatchObject({
      kind: 'send',
      action: 'update',
      changes: [{ field: 'name', old: 'An', new: 'Ann' }],
    });
    expect(decidePush(c({ remoteId: null, hash, status: 'failed', payload: null }), toRemote, false)).toEqual({ kind: 'unchanged', heldFailed: true });
    expect(decidePush(c({ remoteId: null, hash, status: 'failed', payload: null }), toRemote, true)).toMatchObject({ kind: 'send' });
    expect(decidePush(c({ remoteId: null, hash, status: 'pending', payload: null }), toRemote, false)).toMatchObject({ kind: 'send' });
    // declined for want of a remote id: tried again once a link exists
    expect(decidePush(c({ remoteId: null, hash, status: 'skipped', payload: null }), toRemote, false)).toMatchObject({ kind: 'unchanged' });
    expect(decidePush(c({ remoteId: null, hash, status: 'skipped', payload: null }, 'user-1'), toRemote, false)).toMatchObject({ kind: 'send', action: 'update' });
    const none = member({ member_id: null });
    const skip = decidePush({ member: none }, toRemote, false);
    expect(skip).toMatchObject({ kind: 'skip', reason: 'no member_id' });
    expect(decidePush({ member: none, state: { remoteId: null, hash: (skip as { hash: string }).hash, status: 'skipped', payload: null } }, toRemote, false)).toMatchObject({ kind: 'unchanged' });
  });
});
