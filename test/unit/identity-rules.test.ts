import { describe, expect, it } from 'vitest';
import { decideBatch, type BatchItem, type DecideContext } from '../../src/members/decide-batch.js';
import { sourceKeyOf, Stamps, type SourceRecord } from '../../src/members/source-record.js';
import { WorkingSet } from '../../src/members/working-set.js';
import type { Member, MemberValues } from '../../src/types.js';

let seq = 0;
const trust: Record<string, number> = { 'crm-high': 10, 'crm-low': 1 };
const ctx = (over: Partial<DecideContext> = {}): DecideContext => ({
  source: 'file:test',
  trustOf: (s) => trust[s] ?? 0,
  runId: 7,
  allowDuplicateEmails: false,
  newId: () => `new-${++seq}`,
  stamps: new Stamps(),
  ...over,
});
/** A stored member, with one source record per source that gave its values (by default one). */
type Given = { id: string; values: MemberValues; sources?: [string, MemberValues][] };
const member = (id: string, values: MemberValues, sources?: [string, MemberValues][]): Given => ({ id, values, sources });
const item = (values: MemberValues, externalId?: string, line = 2, connection = false): BatchItem => ({
  ok: true,
  record: { ref: { line, externalId }, values, raw: {} },
  key: sourceKeyOf(values, connection || externalId ? externalId : undefined) ?? 'none',
  fp: `fp-${++seq}`,
});
const setOf = (...given: Given[]) => {
  const s = new WorkingSet();
  let n = 0;
  for (const g of given) {
    const m: Member = { id: g.id, provenance: {}, created_run_id: 1, weight: 1, ...g.values };
    s.add(m);
    for (const [source, values] of g.sources ?? [['migrated', g.values]]) {
      const sr: SourceRecord = { source, key: `member:${g.id}:${++n}`, memberId: g.id, values, stamps: {}, hash: '', firstRunId: 1, lastRunId: 1 };
      s.putSource(sr);
    }
  }
  return s;
};

describe('identity rules', () => {
  it('rule 0: a linked external id is that member, whatever the keys say', () => {
    const s = setOf(member('m1', { email: 'a@x.org' }));
    s.addLink('crm', 'r-1', 'm1');
    const out = decideBatch([item({ email: 'new@x.org' }, 'r-1')], s, ctx({ connection: 'crm', source: 'crm' }));
    expect(out.counts.updated).toBe(1);
    expect(out.updated.get('m1')?.email).toBe('new@x.org');
    expect(out.links).toEqual([]);
  });

  it('rule 1: cons_id matches before member_id and email', () => {
    const s = setOf(member('m1', { cons_id: 'C1' }), member('m2', { member_id: 'M2', email: 'b@x.org' }));
    const out = decideBatch([item({ cons_id: 'C1', first_name: 'Ann' })], s, ctx());
    expect(out.updated.get('m1')?.first_name).toBe('Ann');
    expect(out.changes[0]).toMatchObject({ memberId: 'm1', rule: 'cons_id', field: 'first_name', old: null, new: 'Ann' });
  });

  it('rule 2: a cons_id that matches nothing falls through to member_id', () => {
    const s = setOf(member('m2', { member_id: 'M2' }));
    const out = decideBatch([item({ cons_id: 'C9', member_id: 'M2' })], s, ctx());
    expect(out.counts.updated).toBe(1);
    expect(out.updated.get('m2')?.cons_id).toBe('C9');
    expect(out.changes[0].rule).toBe('member_id');
  });

  it('rule 3: email when no key matched; ambiguous with duplicates allowed', () => {
    const s = setOf(member('m1', { email: 'a@x.org' }));
    expect(decideBatch([item({ email: 'a@x.org', city: 'Oslo' })], s, ctx()).changes[0].rule).toBe('email');
    const dup = setOf(member('m1', { email: 'a@x.org' }), member('m2', { email: 'a@x.org' }));
    const out = decideBatch([item({ email: 'a@x.org' })], dup, ctx({ allowDuplicateEmails: true }));
    expect(out.conflicts[0]).toMatchObject({ reason: 'ambiguous_email', candidates: ['m1', 'm2'] });
    expect(out.counts.conflicts).toBe(1);
  });

  it('rule 4: cons_id_mismatch when both carry different cons_ids', () => {
    const s = setOf(member('m1', { cons_id: 'C1', member_id: 'M1' }));
    const out = decideBatch([item({ cons_id: 'C2', member_id: 'M1', first_name: 'X' })], s, ctx());
    expect(out.conflicts[0]).toMatchObject({ reason: 'cons_id_mismatch', candidates: ['m1'] });
    expect(out.updated.size).toBe(0);
  });

  it('rule 4: member_id_mismatch, so email falls back only onto blank or equal member_ids', () => {
    const s = setOf(member('m1', { member_id: 'M1', email: 'a@x.org' }));
    const out = decideBatch([item({ member_id: 'M9', email: 'a@x.org' })], s, ctx());
    expect(out.conflicts[0]).toMatchObject({ reason: 'member_id_mismatch' });
    const blank = setOf(member('m1', { email: 'a@x.org' }));
    const ok = decideBatch([item({ member_id: 'M9', email: 'a@x.org' })], blank, ctx());
    expect(ok.updated.get('m1')?.member_id).toBe('M9');
  });

  it('rule 0 keeps the guard: a linked record with another member_id is a conflict, not a re-key', () => {
    const s = setOf(member('m1', { member_id: 'M1', email: 'a@x.org' }));
    s.addLink('crm', 'r-1', 'm1');
    const out = decideBatch([item({ member_id: 'M2', email: 'a@x.org' }, 'r-1')], s, ctx({ connection: 'crm', source: 'crm' }));
    expect(out.conflicts[0]).toMatchObject({ reason: 'member_id_mismatch', candidates: ['m1'] });
    expect(out.updated.size).toBe(0);
  });

  it('rule 5: no candidate makes a new member with weight 1 and its source record', () => {
    const out = decideBatch([item({ email: 'n@x.org', first_name: 'N' }, 'r-9')], new WorkingSet(), ctx({ connection: 'crm', source: 'crm' }));
    const [created] = [...out.created.values()];
    expect(created).toMatchObject({ email: 'n@x.org', weight: 1, created_run_id: 7 });
    expect(out.sources.get('crm\u0000ext:r-9')?.sr).toMatchObject({ memberId: created.id, values: { email: 'n@x.org', first_name: 'N' } });
    expect(out.links).toEqual([{ connection: 'crm', externalId: 'r-9', memberId: created.id, rule: 'new' }]);
  });

  it('rule 6: empty never erases; equal values leave the record unchanged', () => {
    const s = setOf(member('m1', { email: 'a@x.org', first_name: 'Ann', city: 'Oslo' }));
    const out = decideBatch([item({ email: 'a@x.org', first_name: 'Ann' })], s, ctx());
    expect(out.counts.unchanged).toBe(1);
    expect(out.changes).toEqual([]);
  });

  it('survivorship: a field a higher trust rank gives is kept; the same or lower rank gives the rest', () => {
    const s = setOf(member('m1', { email: 'a@x.org', first_name: 'Ann', city: 'Oslo' }, [['crm-high', { email: 'a@x.org', first_name: 'Ann' }], ['crm-low', { email: 'a@x.org', city: 'Oslo' }]]));
    const out = decideBatch([item({ email: 'a@x.org', first_name: 'Anna', city: 'Bergen' })], s, ctx({ source: 'crm-low' }));
    expect(out.updated.get('m1')).toMatchObject({ first_name: 'Ann', city: 'Bergen' });
  });

  it('survivorship: between equal trust the value changed last at its source wins, and a source sent again unchanged changes nothing', () => {
    const s = setOf(member('m1', { email: 'a@x.org' }));
    const c = ctx();
    // source A says groups x, then source B (same trust) says y: y is newer
    decideBatch([item({ email: 'a@x.org', groups: ['x'] })], s, { ...c, source: 'a' });
    decideBatch([item({ email: 'a@x.org', groups: ['y'] })], s, { ...c, source: 'b' });
    expect(s.byEmail('a@x.org')[0].groups).toEqual(['y']);
    // A sends the same again: it did not change at A, so B's newer value stays
    const again = decideBatch([item({ email: 'a@x.org', groups: ['x'] })], s, { ...c, source: 'a' });
    expect(again.counts.unchanged).toBe(1);
    expect(again.changes).toEqual([]);
    expect(s.byEmail('a@x.org')[0].groups).toEqual(['y']);
  });

  it.each([
    ['duplicate_cons_id', { cons_id: 'C2' }],
    ['duplicate_member_id', { member_id: 'M2' }],
    ['duplicate_email', { email: 'b@x.org' }],
  ])('rule 6: %s refuses the whole record', (reason, extra) => {
    const s = setOf(member('m1', { email: 'a@x.org' }), member('m2', { cons_id: 'C2', member_id: 'M2', email: 'b@x.org' }));
    s.addLink('crm', 'r-1', 'm1');
    const out = decideBatch([item({ first_name: 'Changed', ...extra }, 'r-1')], s, ctx({ connection: 'crm', source: 'crm' }));
    expect(out.conflicts[0]).toMatchObject({ reason, candidates: ['m1', 'm2'] });
    expect(out.updated.size).toBe(0);
    expect(s.members.get('m1')?.first_name).toBeUndefined();
  });

  it('duplicate emails allowed: giving a member an email another holds is fine', () => {
    const s = setOf(member('m1', { cons_id: 'C1' }), member('m2', { email: 'b@x.org' }));
    const out = decideBatch([item({ cons_id: 'C1', email: 'b@x.org' })], s, ctx({ allowDuplicateEmails: true }));
    expect(out.updated.get('m1')?.email).toBe('b@x.org');
  });

  it('rule 7: a member found by a key gains the link; a link alone counts as updated', () => {
    const s = setOf(member('m1', { email: 'a@x.org' }));
    const out = decideBatch([item({ email: 'a@x.org' }, 'r-5', 2, true)], s, ctx({ connection: 'crm', source: 'crm' }));
    expect(out.links).toEqual([{ connection: 'crm', externalId: 'r-5', memberId: 'm1', rule: 'email' }]);
    expect(out.counts.updated).toBe(1);
  });

  it('decides in input order: a later row sees the member an earlier row created, and its new keys', () => {
    const out = decideBatch(
      [item({ email: 'a@x.org', first_name: 'A' }, undefined, 2), item({ member_id: 'M1', email: 'a@x.org' }, undefined, 3), item({ member_id: 'M1', city: 'Rome' }, undefined, 4), item({ cons_id: 'C1', member_id: 'M2', email: 'a@x.org' }, undefined, 5)],
      new WorkingSet(),
      ctx(),
    );
    expect(out.counts).toMatchObject({ created: 1, updated: 2, conflicts: 1 });
    const [m] = [...out.created.values()];
    expect(m).toMatchObject({ email: 'a@x.org', member_id: 'M1', city: 'Rome' });
    expect(out.conflicts[0].reason).toBe('member_id_mismatch');
  });

  it('rejected items are counted and kept with their reason', () => {
    const out = decideBatch([{ ok: false, ref: { line: 9 }, reason: 'email: bad', raw: { email: 'x' } }], new WorkingSet(), ctx());
    expect(out.rejects).toEqual([{ ref: { line: 9 }, reason: 'email: bad', raw: { email: 'x' } }]);
    expect(out.counts.rejected).toBe(1);
  });

  it('other: custom keys merge key by key', () => {
    const s = setOf(member('m1', { email: 'a@x.org', other: { a: '1', b: '2' } }));
    const out = decideBatch([item({ email: 'a@x.org', other: { b: '3', c: '4' } })], s, ctx());
    expect(out.updated.get('m1')?.other).toEqual({ a: '1', b: '3', c: '4' });
  });
});
