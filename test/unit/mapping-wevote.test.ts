import { describe, expect, it } from 'vitest';
import { applyBitOps, bitOpsFor, fromVoterUpdateResponse, toWeVoteForm } from '../../src/connectors/wevote/mapping.js';
import { decodeVoterStatus, decodeWeVoteError, statusCodes } from '../../src/connectors/wevote/client.js';
import { INTERFACE_FLAGS_MASK, NOTIFICATION_FLAGS_MASK } from '../../src/connectors/wevote/types.js';

const all = { pushInterfaceFlags: true, pushNotificationFlags: true };

describe('wevote flag bits', () => {
  it('computes set and unset so that any stored value ends up as wanted on the known bits', () => {
    const ops = bitOpsFor(0b1010_0101, INTERFACE_FLAGS_MASK);
    expect(ops).toEqual({ set: 0b1010_0101, unset: 0b0101_1010 });
    for (const stored of [0, 0xff, 0b0101_1010, 0x1ff, 0x7fffffff]) {
      const after = applyBitOps(stored, ops);
      expect(after & INTERFACE_FLAGS_MASK).toBe(0b1010_0101);
      // bits WeVote may add later are left as they were
      expect(after & ~INTERFACE_FLAGS_MASK).toBe(stored & ~INTERFACE_FLAGS_MASK);
    }
  });

  it('ignores wanted bits outside the mask', () => {
    expect(bitOpsFor(0x100 | 1, INTERFACE_FLAGS_MASK)).toEqual({ set: 1, unset: 0xfe });
  });

  it('applies set before unset, as the server does', () => {
    expect(applyBitOps(0, { set: 3, unset: 1 })).toBe(2);
  });

  it('covers the 18 notification bits', () => {
    expect(bitOpsFor(131072, NOTIFICATION_FLAGS_MASK)).toEqual({ set: 131072, unset: 131071 });
  });
});

describe('wevote mapping: canonical -> voterUpdate form', () => {
  it('sends names and photos with their _changed flags, and bits as set/unset integers', () => {
    const form = toWeVoteForm(
      {
        email: ' Ann@Example.org ',
        first_name: 'Ann',
        middle_name: 'B',
        last_name: 'Lee',
        facebook_photo_url: 'https://fb/p.jpg',
        twitter_photo_url: 'https://tw/p.jpg',
        interface_status_flags: 5,
        notification_settings_flags: 1,
        phone: '+1555',
        city: 'Oakland',
      },
      all,
    );
    expect(form).toEqual({
      email_address: 'ann@example.org',
      first_name: 'Ann',
      first_name_changed: 'true',
      middle_name: 'B',
      middle_name_changed: 'true',
      last_name: 'Lee',
      last_name_changed: 'true',
      facebook_profile_image_url_https: 'https://fb/p.jpg',
      facebook_profile_image_url_https_changed: 'true',
      twitter_profile_image_url_https: 'https://tw/p.jpg',
      twitter_profile_image_url_https_changed: 'true',
      flag_integer_to_set: 5,
      flag_integer_to_unset: 0xff & ~5,
      notification_flag_integer_to_set: 1,
      notification_flag_integer_to_unset: NOTIFICATION_FLAGS_MASK & ~1,
    });
  });

  it('never sends the whole-integer fields nor a "False" string', () => {
    const form = toWeVoteForm({ email: 'a@b.c', interface_status_flags: 0, notification_settings_flags: 0 }, all);
    expect(form).toEqual({ email_address: 'a@b.c', flag_integer_to_unset: 0xff, notification_flag_integer_to_unset: NOTIFICATION_FLAGS_MASK });
    expect(JSON.stringify(form)).not.toMatch(/false/i);
    expect(form).not.toHaveProperty('interface_status_flags');
    expect(form).not.toHaveProperty('notification_settings_flags');
  });

  it('drives only the newsletter bit from receive_newsletter when the whole integer is unknown', () => {
    expect(toWeVoteForm({ email: 'a@b.c', receive_newsletter: true }, all)).toEqual({ email_address: 'a@b.c', notification_flag_integer_to_set: 1 });
    expect(toWeVoteForm({ email: 'a@b.c', receive_newsletter: false }, all)).toEqual({ email_address: 'a@b.c', notification_flag_integer_to_unset: 1 });
  });

  it('leaves flags alone when the options say so', () => {
    expect(toWeVoteForm({ email: 'a@b.c', interface_status_flags: 3, receive_newsletter: true }, { pushInterfaceFlags: false, pushNotificationFlags: false })).toEqual({
      email_address: 'a@b.c',
    });
  });

  it('holds back the twitter photo without a last name, which the server would overwrite', () => {
    expect(toWeVoteForm({ email: 'a@b.c', twitter_photo_url: 'https://tw/p.jpg' }, all)).toEqual({ email_address: 'a@b.c' });
  });

  it('skips a member with neither an e-mail nor an E.164 phone: there is no other way to find the voter', () => {
    expect(toWeVoteForm({ first_name: 'Ann' }, all)).toEqual({ skip: 'no email or E.164 phone to find the voter by' });
    expect(toWeVoteForm({ first_name: 'Ann', phone: '555 0100' }, all)).toEqual({ skip: 'no email or E.164 phone to find the voter by' });
  });

  it('sends the phone as phone_number when it is E.164, with or without an e-mail', () => {
    expect(toWeVoteForm({ email: 'a@b.c', phone: '+34 600 111 222' }, all)).toEqual({ email_address: 'a@b.c', phone_number: '+34600111222' });
    expect(toWeVoteForm({ phone: '+14155550100' }, all)).toEqual({ phone_number: '+14155550100' });
  });
});

describe('wevote mapping: voterUpdate answer -> canonical', () => {
  it('reads stored values and ignores echoed false', () => {
    const rec = fromVoterUpdateResponse({
      status: 'UPDATED_VOTER ',
      success: true,
      we_vote_id: 'wv01voter1',
      first_name: 'Ann',
      last_name: 'Lee',
      middle_name: false,
      facebook_profile_image_url_https: false,
      twitter_profile_image_url_https: 'https://tw/p.jpg',
      interface_status_flags: 5,
      notification_settings_flags: 0,
    });
    expect(rec.ref).toEqual({ externalId: 'wv01voter1' });
    expect(rec.values).toEqual({
      first_name: 'Ann',
      last_name: 'Lee',
      twitter_photo_url: 'https://tw/p.jpg',
      interface_status_flags: '5',
      notification_settings_flags: '0',
    });
  });
});

describe('wevote status decoding', () => {
  it('reads success from the flag, whatever the codes say', () => {
    expect(decodeVoterStatus('UPDATED_VOTER ', true)).toBeUndefined();
    expect(decodeVoterStatus('MISSING_VARIABLE_NO_VARIABLES_PASSED_IN_TO_CHANGE ', true)).toBeUndefined();
  });

  it.each([
    ['VOTER_DEVICE_ID_NOT_BALLOT VALID_VOTER_DEVICE_ID_MISSING ', 'auth', 'VALID_VOTER_DEVICE_ID_MISSING'],
    ['MANAGEMENT_API_KEY_NOT_ACCEPTED ', 'auth', 'MANAGEMENT_API_KEY_NOT_ACCEPTED'],
    // the configured device id names no voter: the connection is refused, not a member
    ['VOTER_NOT_FOUND_FROM_DEVICE_ID-VOTER_UPDATE ', 'auth', 'VOTER_NOT_FOUND_FROM_DEVICE_ID'],
    ['MISSING_VOTER_ID ', 'not_found', 'MISSING_VOTER_ID'],
    ['INVALID_STAFF_ACCESS ', 'validation', 'INVALID_STAFF_ACCESS'],
    ['UNABLE_TO_UPDATE_VOTER: duplicate key value ', 'server', 'UNABLE_TO_UPDATE_VOTER'],
    ['RequestDataTooBig ', 'validation', 'RequestDataTooBig'],
  ])('decodes %j', (status, kind, remoteCode) => {
    expect(decodeVoterStatus(status, false)).toEqual({ kind, remoteCode, message: status.trim() });
  });

  it('keeps an unknown failure as "other" with its last code', () => {
    expect(decodeVoterStatus('FIRST_STEP SOMETHING_NEW ', false)).toEqual({ kind: 'other', remoteCode: 'SOMETHING_NEW', message: 'FIRST_STEP SOMETHING_NEW' });
    expect(statusCodes('A_B UNABLE_TO_UPDATE_VOTER: boom went x ')).toContain('UNABLE_TO_UPDATE_VOTER');
  });

  it('treats a 200 that is not the JSON answer as a failure', () => {
    expect(decodeWeVoteError({ status: 200, headers: {}, text: '<html>', json: undefined })).toMatchObject({ kind: 'other' });
    expect(decodeWeVoteError({ status: 500, headers: {}, text: 'oops', json: undefined })).toBeUndefined();
    expect(decodeWeVoteError({ status: 200, headers: {}, text: '', json: { status: 'UPDATED_VOTER ', success: true } })).toBeUndefined();
  });
});
