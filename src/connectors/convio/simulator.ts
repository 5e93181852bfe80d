/**
 * A loopback Convio SRConsAPI that behaves as API-NOTES.md §1 and
 * convio-constituent-update.txt say: POST only (405 otherwise), XML unless
 * response_format=json, every scalar a string, one-element lists collapsed, errors as
 * 403 + errorResponse {code, message}, api_key and login checks, unique e-mail rules and
 * the documented lookup orders. Extension, not in the real API: getGroupMembers honours
 * `list_page_offset` so the connector can page past 1000 (see index.ts).
 * Things the notes mark [I] are chosen here and commented.
 */
import type { ServerResponse } from 'node:http';
import { send, startSimServer, type SimRequest } from '../../http/index.js';
import type { MemberValues } from '../../types.js';
import type { SimulatorHandle, SimulatorOptions } from '../types.js';
import { consView, createOrUpdateCons, createCons, groupMemberView, updateCons, type ConvioSimState, type SimConstituent, SimError } from './sim-store.js';

export type { ConvioSimState, SimConstituent } from './sim-store.js';

export interface ConvioSimulatorOptions extends SimulatorOptions {
  people?: MemberValues[];
  /** @defaultValue 'convio-sim-api-key' */
  apiKey?: string;
  /** @defaultValue 'sim-admin' */
  loginName?: string;
  /** @defaultValue 'sim-admin-password' */
  loginPassword?: string;
  /** groups that exist; seeded people without a numeric group join the first @defaultValue [1001] */
  groupIds?: number[];
  /** the site setting; off means a second record with the same e-mail is refused @defaultValue false */
  allowDuplicateEmails?: boolean;
}

type Json = string | null | Json[] | { [k: string]: Json };

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function toXml(name: string, value: Json): string {
  if (value === null) return `<${name} xsi:nil="true"/>`;
  if (Array.isArray(value)) return value.map((v) => toXml(name, v)).join('');
  if (typeof value === 'object') return `<${name}>${Object.entries(value).map(([k, v]) => toXml(k, v)).join('')}</${name}>`;
  return `<${name}>${escapeXml(value)}</${name}>`;
}

/** Convio collapses a one-element list to the element, and drops an empty one. */
function collapse(list: Json[]): Json | undefined {
  if (list.length === 0) return undefined;
  return list.length === 1 ? list[0] : list;
}

function reply(res: ServerResponse, json: boolean, status: number, rootName: string, body: { [k: string]: Json }): void {
  if (json) {
    send(res, status, JSON.stringify({ [rootName]: body }), 'application/json;charset=UTF-8');
    return;
  }
  const ns = 'xmlns="http://convio.com/crm/v1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
  const inner = Object.entries(body).map(([k, v]) => toXml(k, v)).join('');
  send(res, status, `<?xml version='1.0' encoding='UTF-8'?>\n<${rootName} ${ns}>${inner}</${rootName}>`, 'application/xml;charset=UTF-8');
}

const USER_FIELDS: Array<{ name: string; label: string; valueType: string; maxChars?: string }> = [
  { name: 'member_id', label: 'Member ID', valueType: 'TEXT', maxChars: '50' },
  { name: 'primary_email', label: 'Email', valueType: 'TEXT', maxChars: '255' },
  { name: 'name.first', label: 'First Name', valueType: 'TEXT', maxChars: '50' },
  { name: 'name.middle', label: 'Middle Name', valueType: 'TEXT', maxChars: '50' },
  { name: 'name.last', label: 'Last Name', valueType: 'TEXT', maxChars: '50' },
  { name: 'home_phone', label: 'Home Phone', valueType: 'TEXT', maxChars: '50' },
  { name: 'gender', label: 'Gender', valueType: 'ENUMERATION' },
  { name: 'birth_date', label: 'Birth Date', valueType: 'DATE' },
  { name: 'primary_address.street1', label: 'Street 1', valueType: 'TEXT', maxChars: '128' },
  { name: 'primary_address.city', label: 'City', valueType: 'TEXT', maxChars: '64' },
  { name: 'primary_address.state', label: 'State/Province', valueType: 'ENUMERATION' },
  { name: 'primary_address.zip', label: 'ZIP/Postal Code', valueType: 'TEXT', maxChars: '40' },
  { name: 'primary_address.country', label: 'Country', valueType: 'ENUMERATION' },
  { name: 'accepts_postal_mail', label: 'Accept Mail', valueType: 'BOOLEAN' },
];

function seed(state: ConvioSimState, people: MemberValues[], groupIds: number[]): void {
  for (const p of people) {
    const groups = (p.groups ?? []).filter((g) => /^\d+$/.test(g)).map(Number);
    const c = createCons(state, {
      cons_id: p.cons_id ?? undefined,
      member_id: p.member_id ?? undefined,
      email: p.email ?? undefined,
      first_name: p.first_name ?? undefined,
      middle_name: p.middle_name ?? undefined,
      last_name: p.last_name ?? undefined,
      phone: p.phone ?? undefined,
      street1: p.address ?? undefined,
      city: p.city ?? undefined,
      state: p.province ?? undefined,
      zip: p.postal_code ?? undefined,
      country: p.country ?? undefined,
      gender: p.sex ?? undefined,
      birth_date: p.birth_date ?? undefined,
    });
    for (const g of groups.length ? groups : groupIds.slice(0, 1)) c.groups.add(g);
  }
}

export async function startConvioSimulator(opts: ConvioSimulatorOptions = {}): Promise<SimulatorHandle & { state: ConvioSimState }> {
  const apiKey = opts.apiKey ?? 'convio-sim-api-key';
  const loginName = opts.loginName ?? 'sim-admin';
  const loginPassword = opts.loginPassword ?? 'sim-admin-password';
  const groupIds = opts.groupIds ?? [1001];
  const state: ConvioSimState = { constituents: new Map(), nextConsId: 1001001, allowDuplicateEmails: opts.allowDuplicateEmails ?? false };
  seed(state, opts.people ?? [], groupIds);

  function handle(req: SimRequest, res: ServerResponse): void {
    if (!req.path.endsWith('/SRConsAPI')) return send(res, 404, 'Not Found', 'text/plain');
    const p = req.params;
    const json = p.response_format === 'json';
    // listUserFields is documented as GET/POST; everything else is POST only
    if (req.method !== 'POST' && !(req.method === 'GET' && p.method === 'listUserFields')) {
      res.setHeader('allow', 'POST');
      return send(res, 405, 'Method Not Allowed', 'text/plain');
    }
    const fail = (e: SimError): void => reply(res, json, 403, 'errorResponse', { code: e.code, message: e.message });
    try {
      if (!p.method) throw new SimError('6', 'No method specified or invalid method.');
      if (p.api_key !== apiKey) throw new SimError('2', 'Incorrect API key.');
      // [I] the version check's code is not documented; 1 "Unable to process request" is the generic one
      if (p.v !== '1.0') throw new SimError('1', 'Unable to process request: API version must be 1.0.');
      if (p.login_name !== loginName || p.login_password !== loginPassword) throw new SimError('3', 'Authorization failed.');
      dispatch(p, json, res);
    } catch (err) {
      if (err instanceof SimError) return fail(err);
      throw err;
    }
  }

  function dispatch(p: Record<string, string>, json: boolean, res: ServerResponse): void {
    switch (p.method) {
      case 'getUser': {
        const c = lookupForGetUser(state, p);
        return reply(res, json, 200, 'getConsResponse', consView(c));
      }
      case 'update': {
        const c = updateCons(state, p);
        return reply(res, json, 200, 'updateConsResponse', { cons_id: c.cons_id, message: 'User updated.' });
      }
      case 'create': {
        const c = createFromForm(state, p);
        return reply(res, json, 200, 'createConsResponse', { cons_id: c.cons_id });
      }
      case 'createOrUpdate': {
        const { cons, created } = createOrUpdateCons(state, p);
        // [I] only cons_id is verified in this response; the message tells created from updated
        return reply(res, json, 200, 'createOrUpdateConsResponse', { cons_id: cons.cons_id, message: created ? 'User created.' : 'User updated.' });
      }
      case 'getGroupMembers': {
        if (!p.group_id || !/^\d+$/.test(p.group_id)) throw new SimError('9', 'Required parameters missing: group_id.');
        const groupId = Number(p.group_id);
        const max = Math.min(1000, Math.max(1, Number(p.max_number ?? p.list_page_size ?? 1000) || 1000));
        const offset = Math.max(0, Number(p.list_page_offset ?? 0) || 0); // extension
        const fields = p.fields ? p.fields.split(',').map((f) => f.trim()).filter(Boolean) : undefined;
        const members = [...state.constituents.values()]
          .filter((c) => c.groups.has(groupId))
          .sort((a, b) => Number(a.cons_id) - Number(b.cons_id))
          .slice(offset, offset + max)
          .map((c) => groupMemberView(c, fields));
        const member = collapse(members);
        return reply(res, json, 200, 'getGroupMembersResponse', member === undefined ? {} : { member });
      }
      case 'listUserFields':
        return reply(res, json, 200, 'listConsFieldsResponse', { field: collapse(USER_FIELDS.map((f) => ({ ...f }))) ?? [] });
      default:
        throw new SimError('6', 'No method specified or invalid method.');
    }
  }

  const server = await startSimServer({
    host: opts.host,
    port: opts.port,
    faults: opts.faults,
    routeKey: (req) => `${req.method} ${req.params.method ?? req.path}`,
    handle,
  });
  return { ...server, url: `${server.url}/demo/site`, requests: server.requests, setFaults: server.setFaults, close: server.close, state };
}

/** getUser: the first key given (cons_id, member_id, primary_email) is searched; 0 or >1 is an error. */
function lookupForGetUser(state: ConvioSimState, p: Record<string, string>): SimConstituent {
  const all = [...state.constituents.values()];
  let found: SimConstituent[];
  if (p.cons_id) found = all.filter((c) => c.cons_id === p.cons_id);
  else if (p.member_id) found = all.filter((c) => c.member_id === p.member_id);
  else if (p.primary_email) found = all.filter((c) => c.email === p.primary_email.trim().toLowerCase());
  else throw new SimError('9', 'Required parameters missing: one of cons_id, member_id, primary_email.');
  if (found.length === 0) throw new SimError('16', 'Constituent record not found.');
  if (found.length > 1) throw new SimError('8', 'Matched more than one constituent.');
  return found[0];
}

function createFromForm(state: ConvioSimState, p: Record<string, string>): SimConstituent {
  return createOrUpdateCons(state, p, { createOnly: true }).cons;
}
