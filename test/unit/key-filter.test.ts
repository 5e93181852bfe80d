import { describe, expect, it } from 'vitest';
import { fk, KeyFilter } from '../../src/members/key-filter.js';

describe('key filter', () => {
  it('never says a key it was given is absent, and says "maybe" of few others', () => {
    const f = new KeyFilter(50_000);
    for (let i = 0; i < 50_000; i++) f.add(fk.email(`p${i}@example.org`));
    for (let i = 0; i < 50_000; i++) expect(f.mayHave(fk.email(`p${i}@example.org`))).toBe(true);
    let maybe = 0;
    for (let i = 0; i < 50_000; i++) if (f.mayHave(fk.email(`q${i}@example.org`))) maybe++;
    // about 1% at capacity
    expect(maybe).toBeLessThan(50_000 * 0.03);
    // kinds of key do not mix
    expect(f.mayHave(fk.cons('p1@example.org')) && f.mayHave(fk.mid('p1@example.org')) && f.mayHave(fk.cons('p2@example.org'))).toBe(false);
  });
});
