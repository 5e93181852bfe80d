/** The review page's one escaping template: record values never reach a page as HTML. */
import { describe, expect, it } from 'vitest';
import { esc, h, page } from '../../src/server/review/html.js';
import { conflictPage, memberPage } from '../../src/server/review/pages.js';
import type { ConflictRow } from '../../src/store/conflicts-repo.js';
import type { Member } from '../../src/types.js';

const EVIL = `<img src=x onerror="alert('x')">&\``;

describe('review page HTML', () => {
  it('escapes every interpolated value, joins arrays, keeps HTML made by h', () => {
    expect(esc(EVIL)).toBe('&#60;img src=x onerror=&#34;alert(&#39;x&#39;)&#34;&#62;&#38;&#96;');
    const inner = h`<b>${EVIL}</b>`;
    expect(h`<p>${inner}${[EVIL, h`<i>ok</i>`]}${false}${null}</p>`.text).toBe(`<p><b>${esc(EVIL)}</b>${esc(EVIL)}<i>ok</i></p>`);
    expect(page(EVIL, h`x`)).not.toContain('<img');
  });

  it('renders a conflict and a member whose values are markup as text', () => {
    const member = { id: '01a233ab-0000-7000-8000-000000000001', email: 'a@x.org', first_name: EVIL, other: { [EVIL]: EVIL }, weight: 1 } as unknown as Member;
    const c = {
      id: 1, run_id: 1, last_run_id: 1, source: 'file:<b>', source_key: 'email:a@x.org', fp: null, source_ref: EVIL, reason: 'cons_id_mismatch',
      candidate_ids: [member.id], record: { values: { email: 'a@x.org', first_name: EVIL, city: EVIL } }, state: 'open', times_seen: 1,
      created_at: new Date(), last_seen_at: new Date(), resolved_at: null, resolved_by: null, resolution: null, resolve_run_id: null,
    } as ConflictRow;
    const html = conflictPage({ c, candidates: [{ id: member.id, member, origins: { first_name: { source: EVIL, key: EVIL, changed_at: null, run: 1 } } }], csrf: 'tok"en' }).text;
    expect(html).not.toMatch(/<img|<b>/);
    expect(html).toContain(esc(EVIL));
    expect(html).toContain('value="tok&#34;en"');
    const mp = memberPage({ m: member, origins: {}, sources: [{ id: 1, source: EVIL, key: EVIL, memberId: member.id, values: { first_name: EVIL } as never, stamps: {}, hash: '', firstRunId: 1, lastRunId: 1 }], links: [], history: [], csrf: 't' }).text;
    expect(mp).not.toContain('<img');
  });
});
