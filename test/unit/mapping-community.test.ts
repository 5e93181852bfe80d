import { describe, expect, it } from 'vitest';
import {
  dateFromRemote,
  dateToRemote,
  fromCommunityUser,
  sexFromRemote,
  sexToRemote,
  toCommunityUser,
} from '../../src/connectors/community/mapping.js';
import { EMPTY_DATE, EMPTY_GUID, type GnossUser } from '../../src/connectors/community/types.js';

const user: GnossUser = {
  name: 'John',
  last_name: 'Vander Var',
  email: 'johnvandervar@organization.com',
  community_id: '1ede819e-9d0f-41e9-855b-bbebc7f08dd1',
  community_short_name: 'developers',
  user_short_name: 'john-vander-var',
  user_id: '50b7615f-e32d-469d-ad93-d5829ab983ef',
  born_date: '1985-02-01T00:00:00',
  country_id: '98d604b4-3141-4499-bde1-c320f09ef45c',
  country: 'Spain',
  province_id: '96f4fe28-a136-4423-ae60-36edd3261600',
  provice: 'Madrid',
  city: 'Madrid',
  postal_code: '28001',
  id_card: '12345678Z',
  join_community_date: '2016-06-12T00:00:00',
  sex: 'H',
  receive_newsletter: false,
  languaje: null,
  photo: 'https://example.org/p.png',
  extra_data: [{ name_id: EMPTY_GUID, name: 'Center', short_name: 'center', value: 'North' }],
};

describe('community mapping: remote -> canonical', () => {
  it('maps the User fields, typos included, and keys the record by user_id', () => {
    const rec = fromCommunityUser(user);
    expect(rec.ref).toEqual({ externalId: '50b7615f-e32d-469d-ad93-d5829ab983ef' });
    expect(rec.values).toEqual({
      first_name: 'John',
      last_name: 'Vander Var',
      email: 'johnvandervar@organization.com',
      sex: 'male',
      birth_date: '1985-02-01',
      national_id: '12345678Z',
      country: 'Spain',
      province: 'Madrid',
      city: 'Madrid',
      postal_code: '28001',
      photo_url: 'https://example.org/p.png',
      join_date: '2016-06-12',
    });
    expect(rec.other).toEqual({ center: 'North' });
    expect(rec.raw).toBe(user);
  });

  it('reads .NET defaults and the always-false receive_newsletter as no value', () => {
    const rec = fromCommunityUser({ user_id: EMPTY_GUID, born_date: EMPTY_DATE, join_community_date: EMPTY_DATE, name: ' ', receive_newsletter: false });
    expect(rec.ref).toEqual({});
    expect(rec.values).toEqual({});
  });

  it('reads H as male and M as female', () => {
    expect(sexFromRemote('H')).toBe('male');
    expect(sexFromRemote('m')).toBe('female');
    expect(sexFromRemote('X')).toBeUndefined();
    expect(sexFromRemote(null)).toBeUndefined();
  });

  it('cuts dates to ISO days', () => {
    expect(dateFromRemote('1985-02-01T00:00:00')).toBe('1985-02-01');
    expect(dateFromRemote('0001-01-01T00:00:00')).toBeUndefined();
    expect(dateFromRemote('garbage')).toBeUndefined();
  });
});

describe('community mapping: canonical -> remote', () => {
  const options = { countryIds: { es: '98d604b4-3141-4499-bde1-c320f09ef45c' }, provinceIds: {} };

  it('sends only the non-empty fields modify-user applies', () => {
    const body = toCommunityUser(
      {
        first_name: 'Ana',
        last_name: 'García',
        email: 'ana@example.org',
        sex: 'female',
        birth_date: '1990-05-06',
        country: 'ES',
        province: 'Madrid',
        city: 'Madrid',
        postal_code: '28001',
        national_id: '1234',
        language: 'es',
        address: 'Calle 1',
        photo_url: 'https://x/y.png',
        receive_newsletter: true,
        middle_name: '',
      },
      options,
    );
    expect(body).toEqual({
      name: 'Ana',
      last_name: 'García',
      email: 'ana@example.org',
      sex: 'M',
      born_date: '1990-05-06T00:00:00',
      country_id: '98d604b4-3141-4499-bde1-c320f09ef45c',
      provice: 'Madrid',
      city: 'Madrid',
      postal_code: '28001',
    });
  });

  it('turns canonical sex into the Spanish initials', () => {
    expect(sexToRemote('male')).toBe('H');
    expect(sexToRemote('M')).toBe('H');
    expect(sexToRemote('F')).toBe('M');
    expect(sexToRemote('mujer')).toBe('M');
    expect(sexToRemote('other')).toBeUndefined();
  });

  it('writes dates as .NET DateTime text and leaves out what it cannot read', () => {
    expect(dateToRemote('1985-02-01')).toBe('1985-02-01T00:00:00');
    expect(dateToRemote('01/02/1985')).toBeUndefined();
    expect(toCommunityUser({ birth_date: null, sex: null }, options)).toEqual({});
  });

  it('round-trips the fields both sides have', () => {
    const body = toCommunityUser(
      { first_name: 'Ana', last_name: 'Pérez', email: 'a@b.c', sex: 'male', birth_date: '2000-01-02', city: 'Bilbao' },
      options,
    );
    const back = fromCommunityUser({ ...body, user_id: '50b7615f-e32d-469d-ad93-d5829ab983ef' });
    expect(back.values).toEqual({ first_name: 'Ana', last_name: 'Pérez', email: 'a@b.c', sex: 'male', birth_date: '2000-01-02', city: 'Bilbao' });
  });
});
