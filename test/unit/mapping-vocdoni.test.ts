import { describe, expect, it } from 'vitest';
import { birthDateFromRemote, fromOrgMember, isMaskedPhone, toOrgMember } from '../../src/connectors/vocdoni/mapping.js';

describe('vocdoni mapping: remote -> canonical', () => {
  it('maps an OrgMember and keys it by the Vocdoni id', () => {
    const m = {
      id: '665f00000000000000000001',
      memberNumber: 'A-101',
      name: 'Alice',
      surname: 'Doe',
      email: 'alice@example.org',
      phone: '+34600111222',
      nationalId: 'X123',
      birthDate: '1980-03-04',
      weight: '3',
      other: { center: 'North', seats: 2 },
    };
    const rec = fromOrgMember(m);
    expect(rec.ref).toEqual({ externalId: '665f00000000000000000001' });
    expect(rec.values).toEqual({
      member_id: 'A-101',
      first_name: 'Alice',
      last_name: 'Doe',
      email: 'alice@example.org',
      phone: '+34600111222',
      national_id: 'X123',
      birth_date: '1980-03-04',
      weight: '3',
    });
    expect(rec.other).toEqual({ center: 'North', seats: '2' });
    expect(rec.raw).toEqual(m);
  });

  it('never reads a masked phone back as a phone', () => {
    expect(isMaskedPhone('a1b2c3***')).toBe(true);
    expect(isMaskedPhone('+34600111222')).toBe(false);
    expect(isMaskedPhone('')).toBe(false);
    const rec = fromOrgMember({ id: 'x', memberNumber: '7', phone: 'a1b2c3***', weight: '1' });
    expect(rec.values).toEqual({ member_id: '7', weight: '1' });
  });

  it('accepts DD/MM/YYYY birth dates as the server does', () => {
    expect(birthDateFromRemote('04/03/1980')).toBe('1980-03-04');
    expect(birthDateFromRemote('1980-03-04')).toBe('1980-03-04');
    expect(birthDateFromRemote('')).toBeUndefined();
  });
});

describe('vocdoni mapping: canonical -> remote', () => {
  it('maps the fields Vocdoni has, weight as a string', () => {
    expect(
      toOrgMember({
        member_id: 'A-101',
        first_name: 'Alice',
        last_name: 'Doe',
        email: ' Alice@Example.org ',
        phone: '+34600111222',
        national_id: 'X123',
        birth_date: '1980-03-04',
        weight: 2,
        city: 'Madrid',
      }),
    ).toEqual({
      memberNumber: 'A-101',
      name: 'Alice',
      surname: 'Doe',
      email: 'alice@example.org',
      phone: '+34600111222',
      nationalId: 'X123',
      birthDate: '1980-03-04',
      weight: '2',
    });
  });

  it('skips a member without member_id', () => {
    expect(toOrgMember({ email: 'a@b.c' })).toEqual({ skip: 'no member_id' });
    expect(toOrgMember({ member_id: '  ' })).toEqual({ skip: 'no member_id' });
  });

  it('always sends a weight, 1 by default, because PUT overwrites it', () => {
    expect(toOrgMember({ member_id: '9' })).toEqual({ memberNumber: '9', weight: '1' });
    expect(toOrgMember({ member_id: '9', weight: 0 })).toEqual({ memberNumber: '9', weight: '1' });
  });

  it('round-trips the fields both sides have', () => {
    const values = { member_id: 'B-2', first_name: 'Bo', last_name: 'Li', email: 'bo@li.cn', national_id: 'N1', birth_date: '1999-12-31', weight: 4 };
    const remote = toOrgMember(values);
    expect('skip' in remote).toBe(false);
    const back = fromOrgMember({ ...(remote as object), id: 'abc' });
    expect(back.values).toEqual({ member_id: 'B-2', first_name: 'Bo', last_name: 'Li', email: 'bo@li.cn', national_id: 'N1', birth_date: '1999-12-31', weight: '4' });
  });
});
