/**
 * The IKANOW simulator's people and the register/update rules of PersonHandler
 * (API-NOTES.md §2), as pure functions over the state that return an envelope message.
 */
import { createHash } from 'node:crypto';
import type { IkanowPerson, IkanowSetup } from './types.js';
import { IKANOW_MESSAGES as M } from './types.js';

export interface SimPerson {
  _id: string;
  WPUserID: string;
  email: string;
  firstName?: string;
  lastName?: string;
  phone?: string;
  created: string;
  modified: string;
  accountType: string;
  accountStatus: string;
  /** SHA-256/base64 of the password, as IKANOW stores it */
  passwordHash: string;
  apiKey?: string;
  /** listed by social/person/list (the admin account is not) */
  member: boolean;
}

export interface IkanowSimState {
  people: Map<string, SimPerson>;
  /** session cookie → person _id */
  sessions: Map<string, string>;
  /** passwords that arrived NOT pre-hashed (at login, register or update): should stay 0 */
  plainPasswords: number;
  nextId: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** "Feb 9, 2016 02:06:16 PM UTC" */
export function ikanowDateOf(d: Date): string {
  const h = d.getUTCHours() % 12 || 12;
  const ampm = d.getUTCHours() < 12 ? 'AM' : 'PM';
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()} ${pad(h)}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${ampm} UTC`;
}

export const sha256b64 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

/** A 44-character value is taken as already hashed; anything else is hashed (and counted). */
export function storedPassword(state: IkanowSimState, value: string): string {
  if (value.length === 44) return value;
  state.plainPasswords++;
  return sha256b64(value);
}

/** ObjectId-like: 8 hex of seconds then a counter, so ids sort in creation order. */
export function newId(state: IkanowSimState): string {
  const n = state.nextId++;
  return (0x60000000 + n).toString(16) + n.toString(16).padStart(16, '0');
}

export function findPerson(state: IkanowSimState, key: string): SimPerson | undefined {
  const k = key.trim();
  const direct = state.people.get(k);
  if (direct) return direct;
  const lower = k.toLowerCase();
  for (const p of state.people.values()) if (p.email === lower || p.WPUserID === k) return p;
  return undefined;
}

export function personView(p: SimPerson): IkanowPerson {
  const displayName = [p.firstName, p.lastName].filter(Boolean).join(' ').trim();
  const out: IkanowPerson = {
    _id: p._id,
    created: p.created,
    modified: p.modified,
    email: p.email,
    firstName: p.firstName,
    lastName: p.lastName,
    displayName,
    phone: p.phone,
    WPUserID: p.WPUserID,
    accountType: p.accountType,
    accountStatus: p.accountStatus.toLowerCase(),
    communities: p.member ? [{ _id: '4c927585d591d31d7b37097a', name: 'Members' }] : [],
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

type Outcome = { ok: true; person: SimPerson } | { ok: false; message: string };

const emailTaken = (state: IkanowSimState, email: string, except?: SimPerson): boolean =>
  [...state.people.values()].some((p) => p !== except && p.email === email.toLowerCase());

export function register(state: IkanowSimState, setup: IkanowSetup, now: Date): Outcome {
  const { user, auth } = setup;
  if (!user || !auth) return { ok: false, message: M.needUserAndAuth };
  const email = user.email?.[0]?.trim();
  if (!email) return { ok: false, message: M.needEmail };
  if (!user.firstname && !user.lastname) return { ok: false, message: M.needName };
  const wp = user.WPUserID ?? email;
  if (emailTaken(state, email) || [...state.people.values()].some((p) => p.WPUserID === wp)) return { ok: false, message: M.userExists };
  if (!auth.password) return { ok: false, message: M.needPassword };
  const stamp = ikanowDateOf(now);
  const person: SimPerson = {
    _id: newId(state),
    WPUserID: wp,
    email: email.toLowerCase(),
    firstName: user.firstname,
    lastName: user.lastname,
    phone: user.phone,
    created: stamp,
    modified: stamp,
    accountType: auth.accountType ?? 'user',
    accountStatus: auth.accountStatus ?? 'ACTIVE',
    passwordHash: storedPassword(state, auth.password),
    member: true,
  };
  state.people.set(person._id, person);
  return { ok: true, person };
}

/** update as `caller`: admins look up WPUserID, then auth.username, then email[0]; others update themselves. */
export function update(state: IkanowSimState, setup: IkanowSetup, caller: SimPerson, now: Date): Outcome {
  const user = setup.user;
  const auth = setup.auth ?? {};
  const admin = caller.accountType === 'admin';
  let target: SimPerson | undefined;
  if (!admin) target = caller;
  else {
    const key = user?.WPUserID ?? auth.username ?? user?.email?.[0];
    if (!key) return { ok: false, message: M.needWpUserId };
    target = user?.WPUserID ? [...state.people.values()].find((p) => p.WPUserID === user.WPUserID) : findPerson(state, key);
  }
  if (!target) return { ok: false, message: M.cantFindUser };
  const newEmail = user?.email?.[0]?.trim().toLowerCase();
  if (newEmail && newEmail !== target.email && emailTaken(state, newEmail, target)) return { ok: false, message: M.emailNotUnique };
  if (auth.apiKey && !admin) return { ok: false, message: M.apiKeyNeedsAdmin };
  // only non-null fields change; WPUserID is immutable; accountType is for admins
  if (newEmail) target.email = newEmail;
  if (user?.firstname) target.firstName = user.firstname;
  if (user?.lastname) target.lastName = user.lastname;
  if (user?.phone) target.phone = user.phone;
  if (auth.password) target.passwordHash = storedPassword(state, auth.password);
  if (auth.accountType && admin) target.accountType = auth.accountType;
  if (auth.accountStatus) target.accountStatus = auth.accountStatus;
  if (auth.apiKey) target.apiKey = auth.apiKey;
  target.modified = ikanowDateOf(now);
  return { ok: true, person: target };
}
