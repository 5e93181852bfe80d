import { describe, expect, it } from 'vitest';
import { convioConnector, convioOptionsSchema } from '../../src/connectors/convio/index.js';
import { asList, consToInput, groupMemberToInput, memberToConvio, numericIds, scalar } from '../../src/connectors/convio/mapping.js';
import { convioErrorKind, decodeConvioError } from '../../src/connectors/convio/client.js';
import type { Member } from '../../src/types.js';

const member = (values: Partial<Member>): Member => ({ id: 'm1', provenance: {}, created_run_id: null, ...values });

describe('convio scalars and lists', () => {
  it('reads string-typed values, nulls, one-element arrays and empty objects', () => {
    expect(scalar('1001172')).toBe('1001172');
    expect(scalar('  Ann ')).toBe('Ann');
    expect(scalar(null)).toBeUndefined();
    expect(scalar('')).toBeUndefined();
    expect(scalar(['x'])).toBe('x');
    expect(scalar(['x', 'y'])).toBeUndefined();
    expect(scalar({})).toBeUndefined();
    expect(scalar(42)).toBe('42');
  });

  it('undoes the one-element collapse', () => {
    expect(asList(undefined)).toEqual([]);
    expect(asList({})).toEqual([]);
    expect(asList({ id: '1' })).toEqual([{ id: '1' }]);
    expect(asList([{ id: '1' }, { id: '2' }])).toHaveLength(2);
  });
});

describe('convio → canonical', () => {
  it('maps a getGroupMembers member', () => {
    const rec = groupMemberToInput(
      {
        cons_id: '1001172',
        member_id: 'M-7',
        first_name: 'Ann',
        last_name: 'Lee',
        primary_email: 'Ann@Example.org',
        home_street1: '1 Main St',
        home_street2: 'Apt 2',
        home_street3: null,
        home_city: 'Springfield',
        home_stateprov: 'IL',
        home_zip: '62701',
        home_county: null,
        home_phone: '555-0100',
      },
      3,
    );
    expect(rec.ref).toEqual({ externalId: '1001172', index: 3 });
    expect(rec.values).toEqual({
      cons_id: '1001172',
      member_id: 'M-7',
      first_name: 'Ann',
      last_name: 'Lee',
      email: 'Ann@Example.org',
      address: '1 Main St, Apt 2',
      city: 'Springfield',
      province: 'IL',
      postal_code: '62701',
      phone: '555-0100',
    });
    expect(rec.raw.home_county).toBeNull();
  });

  it('maps a getUser record with nested groups and nulls', () => {
    const rec = consToInput({
      cons_id: '9',
      member_id: null,
      gender: 'FEMALE',
      name: { title: null, first: 'Bea', middle: null, last: 'Ruiz' },
      email: { primary_address: 'bea@example.org' },
      primary_address: { street1: 'Calle 1', city: 'Madrid', state: null, zip: '28001', country: 'Spain' },
    });
    expect(rec.values).toEqual({
      cons_id: '9',
      first_name: 'Bea',
      last_name: 'Ruiz',
      email: 'bea@example.org',
      address: 'Calle 1',
      city: 'Madrid',
      postal_code: '28001',
      country: 'Spain',
      sex: 'FEMALE',
    });
    expect(rec.ref.externalId).toBe('9');
  });
});

describe('canonical → convio', () => {
  it('builds sorted form fields, skipping empties and never sending cons_id', () => {
    const form = memberToConvio(
      member({ cons_id: '5', member_id: 'M-1', email: 'a@b.org', first_name: 'Al', last_name: '', phone: null, city: 'Lyon', birth_date: '1980-02-01' }),
      { groupIds: [] },
    );
    expect(form).toEqual({ birth_date: '1980-02-01', member_id: 'M-1', 'name.first': 'Al', primary_email: 'a@b.org', 'primary_address.city': 'Lyon' });
    expect(Object.keys(form)).toEqual([...Object.keys(form)].sort());
  });

  it('adds listed numeric groups and removes configured ones not listed', () => {
    const form = memberToConvio(member({ email: 'a@b.org', groups: ['1001', 'volunteers', '2002'] }), { groupIds: [1001, 3003, 4004] });
    expect(form.add_group_ids).toBe('1001,2002');
    expect(form.remove_group_ids).toBe('3003,4004');
  });

  it('changes no membership when groups are unknown', () => {
    const form = memberToConvio(member({ email: 'a@b.org', groups: null, interests: ['7', 'x'] }), { groupIds: [1001] });
    expect(form.add_group_ids).toBeUndefined();
    expect(form.remove_group_ids).toBeUndefined();
    expect(form.add_interest_ids).toBe('7');
  });

  it('numericIds keeps digits only, unique and sorted', () => {
    expect(numericIds(['20', ' 3 ', '3', 'x1', ''])).toEqual([3, 20]);
  });

  it('toRemote skips a member Convio cannot be asked about', () => {
    const options = convioOptionsSchema.parse({});
    expect(convioConnector.toRemote!(member({ first_name: 'Nobody' }), options)).toEqual({ skip: expect.any(String) });
    expect(convioConnector.toRemote!(member({ cons_id: '5', first_name: 'Al' }), options)).toEqual({ 'name.first': 'Al' });
  });
});

describe('convio error codes', () => {
  it('maps codes to kinds', () => {
    expect(['2', '3', '4'].map(convioErrorKind)).toEqual(['auth', 'auth', 'auth']);
    expect(convioErrorKind('8')).toBe('duplicate');
    expect(convioErrorKind('15')).toBe('duplicate');
    expect(convioErrorKind('11')).toBe('duplicate');
    expect(convioErrorKind('13')).toBe('duplicate');
    expect(convioErrorKind('16')).toBe('not_found');
    expect(convioErrorKind('9')).toBe('validation');
    expect(convioErrorKind('22')).toBe('validation');
    expect(convioErrorKind('1')).toBe('other');
  });

  it('decodes JSON and XML errorResponse bodies', () => {
    expect(decodeConvioError({ status: 403, headers: {}, text: '', json: { errorResponse: { code: '13', message: 'Update failed: duplicate e-mail address.' } } })).toEqual({
      kind: 'duplicate',
      message: 'Update failed: duplicate e-mail address.',
      remoteCode: '13',
    });
    const xml = '<errorResponse xmlns="http://convio.com/crm/v1.0"><code>16</code><message>Not found</message></errorResponse>';
    expect(decodeConvioError({ status: 403, headers: {}, text: xml, json: undefined })).toMatchObject({ kind: 'not_found', remoteCode: '16' });
    expect(decodeConvioError({ status: 200, headers: {}, text: '{}', json: { getConsResponse: {} } })).toBeUndefined();
  });
});
