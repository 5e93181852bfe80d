/**
 * IKANOW ↔ canonical mapping. Pure. The person object (get/list) becomes an InputRecord;
 * a member becomes the `user` part of a register/update setup body.
 */
import type { InputRecord, MemberValues } from '../../types.js';
import type { IkanowPerson, IkanowSetupUser } from './types.js';

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  const t = value.trim();
  return t === '' ? undefined : t;
}

/**
 * IKANOW writes dates as "Feb 9, 2016 02:06:16 PM UTC"; it reads them back without the
 * zone, which is also the form our date normalizer knows.
 */
export function ikanowDate(value: unknown): string | undefined {
  return text(value)?.replace(/\s+UTC$/i, '');
}

/** One person object → InputRecord; `externalId` is the `_id`. */
export function personToInput(person: IkanowPerson, index?: number): InputRecord {
  const values: InputRecord['values'] = {};
  const set = (key: keyof InputRecord['values'], value: string | undefined): void => {
    if (value !== undefined) values[key] = value;
  };
  set('email', text(person.email));
  set('first_name', text(person.firstName));
  set('last_name', text(person.lastName));
  // displayName is "first last": only worth reading when the parts are missing
  if (!values.first_name && !values.last_name) {
    const parts = text(person.displayName)?.split(/\s+/);
    if (parts?.length) {
      set('first_name', parts[0]);
      set('last_name', parts.length > 1 ? parts.slice(1).join(' ') : undefined);
    }
  }
  set('phone', text(person.phone));
  set('join_date', ikanowDate(person.created));
  return { ref: { externalId: text(person._id), index }, values, raw: { ...person } };
}

/**
 * The `user` object for register/update. `email` is a list of which only [0] counts.
 * Empty values are left out: update changes only the non-null fields it is given, so
 * leaving a field out is how we keep from erasing it.
 */
export function memberToSetupUser(member: MemberValues): IkanowSetupUser {
  const user: IkanowSetupUser = {};
  const email = text(member.email);
  if (email) user.email = [email];
  const first = text(member.first_name);
  if (first) user.firstname = first;
  const last = text(member.last_name);
  if (last) user.lastname = last;
  const phone = text(member.phone);
  if (phone) user.phone = phone;
  return user;
}
