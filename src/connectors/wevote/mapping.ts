/**
 * Pure mapping from a canonical member to voterUpdate form fields. WeVote has no list
 * API, so there is no way back except reading a voterUpdate answer.
 *
 * Two server quirks shape this file:
 * - on POST a string is applied only when `<field>_changed` is truthy, and is then
 *   stored literally; so every string goes with `<field>_changed=true`, and nothing is
 *   ever sent as "False".
 * - a present `interface_status_flags` overwrites the whole integer, and a non-numeric
 *   value (the docs' "False") resets it to 0. Bits therefore travel only as
 *   `*_to_set` / `*_to_unset`, restricted to the bits WeVote defines, so bits a newer
 *   server adds are left alone.
 */
import type { InputRecord, MemberValues } from '../../types.js';
import {
  INTERFACE_FLAGS_MASK,
  NEWSLETTER_OPT_IN,
  NOTIFICATION_FLAGS_MASK,
  type VoterUpdateResponse,
  type WeVoteForm,
  type WeVoteOptions,
} from './types.js';

export interface BitOps {
  set: number;
  unset: number;
}

/**
 * The set/unset integers that turn any stored value into `wanted` on the bits in
 * `mask` (set is applied before unset, so the two never fight).
 */
export function bitOpsFor(wanted: number, mask: number): BitOps {
  const w = wanted & mask;
  return { set: w, unset: mask & ~w };
}

/** What the server does with set/unset: `flags |= set; flags = ~unset & flags`. */
export function applyBitOps(flags: number, ops: BitOps): number {
  return ~ops.unset & (flags | ops.set);
}

function text(value: string | null | undefined): string | undefined {
  const t = value?.trim();
  return t ? t : undefined;
}

/** A phone in E.164 (`+` and 8 to 15 digits), the form WeVote keeps SMS-verified numbers in. */
export function e164(phone: string | null | undefined): string | undefined {
  const t = phone?.replace(/[\s().-]/g, '');
  return t && /^\+[1-9]\d{7,14}$/.test(t) ? t : undefined;
}

/**
 * Canonical member -> voterUpdate form fields, or a skip reason. The voter is found by
 * `email_address` (a verified e-mail) or, failing that, `phone_number` (an SMS-verified
 * phone, E.164): both go out, so a voter who verified only the phone is found, not
 * created a second time. A phone that is not E.164 is not sent.
 */
export function toWeVoteForm(
  member: MemberValues,
  options: Pick<WeVoteOptions, 'pushInterfaceFlags' | 'pushNotificationFlags'>,
): WeVoteForm | { skip: string } {
  const email = text(member.email)?.toLowerCase();
  const phone = e164(member.phone);
  if (!email && !phone) return { skip: 'no email or E.164 phone to find the voter by' };
  const form: WeVoteForm = {};
  if (email) form.email_address = email;
  if (phone) form.phone_number = phone;
  const putString = (field: string, value: string | undefined): void => {
    if (value === undefined) return;
    form[field] = value;
    form[`${field}_changed`] = 'true';
  };
  const lastName = text(member.last_name);
  putString('first_name', text(member.first_name));
  putString('middle_name', text(member.middle_name));
  putString('last_name', lastName);
  putString('facebook_profile_image_url_https', text(member.facebook_photo_url));
  // the server copies last_name onto the voter whenever the twitter photo changes, so
  // without a last name to send the photo would blank the voter's name
  if (lastName) putString('twitter_profile_image_url_https', text(member.twitter_photo_url));

  const putOps = (setKey: string, unsetKey: string, ops: BitOps): void => {
    if (ops.set) form[setKey] = ops.set;
    if (ops.unset) form[unsetKey] = ops.unset;
  };
  if (options.pushInterfaceFlags && typeof member.interface_status_flags === 'number') {
    putOps('flag_integer_to_set', 'flag_integer_to_unset', bitOpsFor(member.interface_status_flags, INTERFACE_FLAGS_MASK));
  }
  if (options.pushNotificationFlags) {
    if (typeof member.notification_settings_flags === 'number') {
      putOps(
        'notification_flag_integer_to_set',
        'notification_flag_integer_to_unset',
        bitOpsFor(member.notification_settings_flags, NOTIFICATION_FLAGS_MASK),
      );
    } else if (typeof member.receive_newsletter === 'boolean') {
      // without the whole integer, only the newsletter bit is ours to decide
      putOps(
        'notification_flag_integer_to_set',
        'notification_flag_integer_to_unset',
        bitOpsFor(member.receive_newsletter ? NEWSLETTER_OPT_IN : 0, NEWSLETTER_OPT_IN),
      );
    }
  }
  return form;
}

/**
 * A voterUpdate answer -> canonical values, for checks and logs. Echoed fields can be
 * `false` (the input was absent), which is not a value.
 */
export function fromVoterUpdateResponse(res: VoterUpdateResponse): InputRecord {
  const values: InputRecord['values'] = {};
  const str = (v: string | false | null | undefined): string | undefined =>
    typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  const set = (field: keyof InputRecord['values'], v: string | undefined): void => {
    if (v !== undefined) values[field] = v;
  };
  set('first_name', str(res.first_name));
  set('middle_name', str(res.middle_name));
  set('last_name', str(res.last_name));
  set('facebook_photo_url', str(res.facebook_profile_image_url_https));
  set('twitter_photo_url', str(res.twitter_profile_image_url_https));
  if (typeof res.interface_status_flags === 'number') values.interface_status_flags = String(res.interface_status_flags);
  if (typeof res.notification_settings_flags === 'number') {
    values.notification_settings_flags = String(res.notification_settings_flags);
  }
  const id = res.we_vote_id ?? res.voter_we_vote_id;
  return { ref: id ? { externalId: id } : {}, values, raw: { ...res } };
}
