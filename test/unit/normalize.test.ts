import { describe, expect, it } from 'vitest';
import { normalizeBoolean, normalizeDate, normalizeEmail, normalizeList, normalizePhone, normalizeRecord } from '../../src/members/normalize.js';

describe('normalizeEmail', () => {
  it('trims and lower-cases', () => expect(normalizeEmail('  Ana.Garcia@Example.ORG ')).toBe('ana.garcia@example.org'));
  it.each(['bad-email', 'a@b', 'a b@example.org', '@example.org', 'a@@example.org', 'a@example..org'])('refuses %s', (e) =>
    expect(normalizeEmail(e)).toBeUndefined(),
  );
  it('accepts plus addressing and subdomains', () => expect(normalizeEmail('x+tag@mail.example.co.uk')).toBe('x+tag@mail.example.co.uk'));
});

describe('normalizeDate', () => {
  it.each([
    ['1985-02-01', '1985-02-01'],
    ['1985-2-1', '1985-02-01'],
    ['01/02/1985', '1985-02-01'],
    ['1985-02-01T00:00:00', '1985-02-01'],
    ['1985-02-01T10:20:30Z', '1985-02-01'],
    ['Feb 1, 1985 12:00:00 AM', '1985-02-01'],
    ['Dec 31, 2001 11:59:59 PM', '2001-12-31'],
  ])('reads %s', (input, out) => expect(normalizeDate(input)).toBe(out));
  it.each(['31/02/1985', '1985-13-01', 'yesterday', '02-01-1985', 'Foo 1, 1985 12:00:00 AM', ''])('refuses %s', (input) =>
    expect(normalizeDate(input)).toBeUndefined(),
  );
});

describe('booleans, lists and phones', () => {
  it.each([
    ['1', true],
    ['true', true],
    ['YES', true],
    ['0', false],
    ['false', false],
    ['no', false],
  ])('%s -> %s', (s, b) => expect(normalizeBoolean(s)).toBe(b));
  it('refuses other words', () => expect(normalizeBoolean('maybe')).toBeUndefined());
  it('splits, trims, dedupes and sorts lists', () => expect(normalizeList(' b | a ;a,c ')).toEqual(['a', 'b', 'c']));
  it('writes E.164 when the number parses for the default country', () => {
    expect(normalizePhone('(415) 555-2671', 'US')).toBe('+14155552671');
    expect(normalizePhone('612 34 56 78', 'ES')).toBe('+34612345678');
    expect(normalizePhone('+34 612 345 678', 'US')).toBe('+34612345678');
  });
  it('keeps a number it cannot read as given, trimmed', () => expect(normalizePhone('  ext 12 ', 'US')).toBe('ext 12'));
});

describe('normalizeRecord', () => {
  const opts = { defaultCountry: 'US' };
  const rec = (values: Record<string, string>, externalId?: string) => ({ ref: { line: 2, externalId }, values, raw: values });

  it('folds whitespace in names and types every field', () => {
    const r = normalizeRecord(rec({ email: 'A@B.org', first_name: '  Ana   María ', weight: '3', receive_newsletter: 'yes', groups: 'x|y', country: 'es' }), opts);
    expect(r.ok && r.record.values).toEqual({ email: 'a@b.org', first_name: 'Ana María', weight: 3, receive_newsletter: true, groups: ['x', 'y'], country: 'ES' });
  });
  it('drops empty values instead of keeping blanks', () => {
    const r = normalizeRecord(rec({ email: 'a@b.org', first_name: '   ', phone: '' }), opts);
    expect(r.ok && r.record.values).toEqual({ email: 'a@b.org' });
  });
  it.each([
    [{ email: 'nope' }, /email/],
    [{ email: 'a@b.org', birth_date: '1985-02-30' }, /birth_date/],
    [{ email: 'a@b.org', weight: '0' }, /weight/],
    [{ email: 'a@b.org', weight: '1.5' }, /weight/],
    [{ email: 'a@b.org', receive_newsletter: 'perhaps' }, /receive_newsletter/],
    [{ first_name: 'Nobody' }, /no_identity_key/],
  ])('rejects %j', (values, reason) => {
    const r = normalizeRecord(rec(values as Record<string, string>), opts);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
  it('accepts a record whose only key is its external id at a connection', () => {
    expect(normalizeRecord(rec({ first_name: 'Linked' }, 'ext-1'), { ...opts, connection: true }).ok).toBe(true);
  });
  // issue 11, finding 1: an external id no connection owns matches nothing next time
  it('rejects a file row whose only key is an external id (no connection owns it)', () => {
    const r = normalizeRecord(rec({ first_name: 'Linked' }, 'ext-1'), opts);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/^no_identity_key/) });
  });
});

describe('uuidv7', () => {
  it('is a version 7 RFC 9562 uuid, ordered by creation', async () => {
    const { uuidv7 } = await import('../../src/members/uuid7.js');
    const ids = Array.from({ length: 1000 }, () => uuidv7());
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
  });
});
