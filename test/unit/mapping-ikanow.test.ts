import { describe, expect, it } from 'vitest';
import { decodeIkanowError, hashPassword, ikanowConnector, ikanowMessageKind } from '../../src/connectors/ikanow/index.js';
import { ikanowDate, memberToSetupUser, personToInput } from '../../src/connectors/ikanow/mapping.js';
import type { Member } from '../../src/types.js';

const member = (values: Partial<Member>): Member => ({ id: 'm1', provenance: {}, created_run_id: null, ...values });

describe('ikanow → canonical', () => {
  it('maps a person object', () => {
    const rec = personToInput(
      {
        _id: '4e3706c48d26852237078005',
        created: 'Feb 9, 2016 02:06:16 PM UTC',
        email: 'jill@ikanow.com',
        firstName: 'Jill',
        lastName: 'Smith',
        displayName: 'Jill Smith',
        phone: '5555555555',
        WPUserID: 'jill@ikanow.com',
        accountStatus: 'active',
        communities: [{ _id: 'c1', name: 'Members' }],
      },
      2,
    );
    expect(rec.ref).toEqual({ externalId: '4e3706c48d26852237078005', index: 2 });
    expect(rec.values).toEqual({ email: 'jill@ikanow.com', first_name: 'Jill', last_name: 'Smith', phone: '5555555555', join_date: 'Feb 9, 2016 02:06:16 PM' });
    expect(rec.raw.communities).toEqual([{ _id: 'c1', name: 'Members' }]);
  });

  it('falls back to displayName only when both name parts are missing', () => {
    expect(personToInput({ _id: 'a', displayName: 'Mary Ann Lee' }).values).toEqual({ first_name: 'Mary', last_name: 'Ann Lee' });
    expect(personToInput({ _id: 'a', firstName: 'Jo', displayName: 'Someone Else' }).values).toEqual({ first_name: 'Jo' });
  });

  it('drops the UTC suffix IKANOW writes but does not read', () => {
    expect(ikanowDate('Dec 31, 2020 11:59:59 PM UTC')).toBe('Dec 31, 2020 11:59:59 PM');
    expect(ikanowDate('')).toBeUndefined();
  });
});

describe('canonical → ikanow', () => {
  it('builds the register/update user object with lower-case keys and an e-mail list', () => {
    expect(memberToSetupUser(member({ email: 'jill@ikanow.com', first_name: 'Jill', last_name: ' ', phone: '555', city: 'X' }))).toEqual({
      email: ['jill@ikanow.com'],
      firstname: 'Jill',
      phone: '555',
    });
  });

  it('toRemote wraps it as a setup body and skips people without e-mail', () => {
    expect(ikanowConnector.toRemote!(member({ email: 'a@b.org', last_name: 'B' }), { createMissing: true, pageSize: 500 })).toEqual({
      user: { email: ['a@b.org'], lastname: 'B' },
    });
    expect(ikanowConnector.toRemote!(member({ first_name: 'A' }), { createMissing: true, pageSize: 500 })).toEqual({ skip: expect.any(String) });
  });
});

describe('ikanow envelope errors', () => {
  it('maps the documented messages to kinds', () => {
    expect(ikanowMessageKind('Insufficient privileges or not logged in')).toBe('auth');
    expect(ikanowMessageKind('Cookie session expired or never existed, please login first')).toBe('auth');
    expect(ikanowMessageKind('You must be admin in secure mode to set an API key')).toBe('auth');
    expect(ikanowMessageKind('User already exists, both WPUserId and first email must be unique')).toBe('duplicate');
    expect(ikanowMessageKind('This primary email address is not unique')).toBe('duplicate');
    expect(ikanowMessageKind("Can't find user specified by WPUserID")).toBe('not_found');
    expect(ikanowMessageKind('Need to specify one of firstname,lastname')).toBe('validation');
    expect(ikanowMessageKind('error while updating wp objects')).toBe('server');
    expect(ikanowMessageKind('Internal authentication error 1')).toBe('other');
  });

  it('treats success=false on a 200 as the error and success=true as none', () => {
    const fail = { response: { action: 'WP Update User', success: false, message: 'This primary email address is not unique', time: 1 } };
    expect(decodeIkanowError({ status: 200, headers: {}, text: '', json: fail })).toEqual({ kind: 'duplicate', message: 'This primary email address is not unique' });
    const ok = { response: { action: 'People List', success: true, message: 'No list to return returned', time: 1 } };
    expect(decodeIkanowError({ status: 200, headers: {}, text: '', json: ok })).toBeUndefined();
    expect(decodeIkanowError({ status: 500, headers: {}, text: 'oops', json: undefined })).toBeUndefined();
  });

  it('hashes passwords to 44-character SHA-256/base64', () => {
    const h = hashPassword('secret');
    expect(h).toHaveLength(44);
    expect(h).toBe('K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=');
  });
});
