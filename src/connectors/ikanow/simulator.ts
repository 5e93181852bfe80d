/**
 * A loopback IKANOW Infinit.e social/person API: every answer HTTP 200 with the
 * `{response:{action,success,message,time},data}` envelope (faults excepted), auth by
 * session cookie (from `auth/login/{user}/{sha256-base64}`), `inf_token` header or
 * `infinite_api_key` parameter, admin-only register/update/get-of-others. A password
 * that arrives un-hashed is what the notes say IKANOW does with it (hashed by the
 * server; at login, simply wrong) and is counted in `state.plainPasswords`.
 * [I] (not in the notes, chosen here): the login action/messages and the cookie format.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { send, startSimServer, type SimRequest } from '../../http/index.js';
import type { MemberValues } from '../../types.js';
import type { SimulatorHandle, SimulatorOptions } from '../types.js';
import { findPerson, ikanowDateOf, newId, personView, register, sha256b64, update, type IkanowSimState, type SimPerson } from './sim-people.js';
import { IKANOW_MESSAGES as M, type IkanowSetup } from './types.js';

export type { IkanowSimState, SimPerson } from './sim-people.js';

export interface IkanowSimulatorOptions extends SimulatorOptions {
  people?: MemberValues[];
  /** the admin's API key @defaultValue 'ikanow-sim-api-key' */
  apiKey?: string;
  /** the admin's login (an e-mail) @defaultValue 'admin@ikanow.example' */
  username?: string;
  /** the admin's password, in clear; the simulator keeps only its hash @defaultValue 'sim-admin-password' */
  password?: string;
}

function envelope(res: ServerResponse, action: string, success: boolean, message: string, data?: unknown): void {
  const body: Record<string, unknown> = { response: { action, success, message, time: 3 } };
  if (data !== undefined && data !== null) body.data = data;
  send(res, 200, JSON.stringify(body), 'application/json');
}

function cookieOf(req: SimRequest): string | undefined {
  const header = String(req.headers.cookie ?? '');
  return /(?:^|;\s*)infinitecookie=([^;]+)/.exec(header)?.[1];
}

export async function startIkanowSimulator(opts: IkanowSimulatorOptions = {}): Promise<SimulatorHandle & { state: IkanowSimState }> {
  const state: IkanowSimState = { people: new Map(), sessions: new Map(), plainPasswords: 0, nextId: 1 };
  const stamp = ikanowDateOf(new Date(Date.UTC(2016, 1, 9, 14, 6, 16)));
  const admin: SimPerson = {
    _id: newId(state),
    WPUserID: opts.username ?? 'admin@ikanow.example',
    email: (opts.username ?? 'admin@ikanow.example').toLowerCase(),
    firstName: 'Admin',
    created: stamp,
    modified: stamp,
    accountType: 'admin',
    accountStatus: 'ACTIVE',
    passwordHash: sha256b64(opts.password ?? 'sim-admin-password'),
    apiKey: opts.apiKey ?? 'ikanow-sim-api-key',
    member: false,
  };
  state.people.set(admin._id, admin);
  for (const p of opts.people ?? []) {
    if (!p.email) continue;
    const email = p.email.toLowerCase();
    const person: SimPerson = {
      _id: newId(state),
      WPUserID: email,
      email,
      firstName: p.first_name ?? undefined,
      lastName: p.last_name ?? undefined,
      phone: p.phone ?? undefined,
      created: stamp,
      modified: stamp,
      accountType: 'user',
      accountStatus: 'ACTIVE',
      passwordHash: sha256b64(randomBytes(8).toString('hex')),
      member: true,
    };
    state.people.set(person._id, person);
  }

  /** who is calling: undefined + the message to answer with when nobody valid is */
  function caller(req: SimRequest): { who?: SimPerson; message: string } {
    const key = (req.headers.inf_token as string | undefined) ?? req.url.searchParams.get('infinite_api_key') ?? undefined;
    const cookie = cookieOf(req);
    const apiKey = key ?? (cookie?.startsWith('api:') ? cookie.slice(4) : undefined);
    if (apiKey !== undefined) {
      const who = [...state.people.values()].find((p) => p.apiKey === apiKey);
      return who ? { who, message: '' } : { message: M.notLoggedIn };
    }
    if (cookie !== undefined) {
      const id = state.sessions.get(cookie);
      const who = id ? state.people.get(id) : undefined;
      return who ? { who, message: '' } : { message: M.cookieExpired };
    }
    return { message: M.notLoggedIn };
  }

  function handle(req: SimRequest, res: ServerResponse): void {
    const path = req.path.replace(/\/+$/, '');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const route = parts.slice(0, 3).join('/');

    if (parts[0] === 'auth' && parts[1] === 'login') {
      const [user = '', pass = ''] = parts.slice(2);
      if (pass.length !== 44) state.plainPasswords++;
      const who = findPerson(state, user);
      if (!who || who.passwordHash !== pass) return envelope(res, 'Login', false, 'Authentication failed');
      const cookie = randomBytes(12).toString('hex');
      state.sessions.set(cookie, who._id);
      res.setHeader('set-cookie', `infinitecookie=${cookie}; Path=/; HttpOnly`);
      return envelope(res, 'Login', true, 'Login Successful');
    }

    const routes: Record<string, [string, string]> = {
      'social/person/list': ['GET', 'People List'],
      'person/list': ['GET', 'People List'],
      'social/person/get': ['GET', 'Person Info'],
      'person/get': ['GET', 'Person Info'],
      'social/person/register': ['POST', 'WP Register User'],
      'people/register': ['POST', 'WP Register User'],
      'social/person/update': ['POST', 'WP Update User'],
      // PersonHandler answers a delete with the update's action on failure, "WP Delete User" on success
      'social/person/delete': ['GET', 'WP Delete User'],
    };
    const key = parts[0] === 'social' ? route : parts.slice(0, 2).join('/');
    const known = routes[key];
    if (!known) return send(res, 404, 'Not Found', 'text/html');
    const [verb, action] = known;
    if (req.method !== verb) return send(res, 405, 'Method Not Allowed', 'text/html');
    const { who, message } = caller(req);
    if (!who) return envelope(res, action, false, message);
    const isAdmin = who.accountType === 'admin';
    const now = new Date();
    const op = key.split('/').at(-1);

    if (op === 'list') {
      const people = [...state.people.values()].filter((p) => p.member).map(personView);
      if (people.length === 0) return envelope(res, action, true, M.emptyList);
      return envelope(res, action, true, M.listed, people);
    }
    if (op === 'get') {
      const id = parts[key.split('/').length];
      if (id === undefined) return envelope(res, action, true, 'Person info returned successfully', personView(who));
      const person = findPerson(state, id);
      if (person !== who && !isAdmin) return envelope(res, action, false, M.notLoggedIn);
      // the quirk: an unknown id is a success without data
      return envelope(res, action, true, 'Person info returned successfully', person ? personView(person) : undefined);
    }
    if (op === 'delete') {
      if (!isAdmin) return envelope(res, 'WP Update User', false, M.notLoggedIn);
      const person = findPerson(state, parts[3] ?? '');
      if (!person) return envelope(res, 'WP Update User', false, "Can't find user to delete via id, WPUserId, or (primary) email");
      state.people.delete(person._id);
      for (const [cookie, id] of state.sessions) if (id === person._id) state.sessions.delete(cookie);
      return envelope(res, action, true, 'User Deleted Successfully');
    }
    const setup = (req.json ?? {}) as IkanowSetup;
    if (op === 'register') {
      if (!isAdmin) return envelope(res, action, false, M.notLoggedIn);
      const out = register(state, setup, now);
      if (!out.ok) return envelope(res, action, false, out.message);
      const data = req.url.searchParams.get('return_user') === 'true' ? personView(out.person) : { ...setup.auth, password: out.person.passwordHash };
      return envelope(res, action, true, M.registered, data);
    }
    const out = update(state, setup, who, now);
    if (!out.ok) return envelope(res, action, false, out.message);
    return envelope(res, action, true, M.updated);
  }

  const server = await startSimServer({ host: opts.host, port: opts.port, faults: opts.faults, handle });
  return { ...server, state };
}
