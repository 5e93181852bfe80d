/**
 * The Vocdoni simulator's in-memory organization: members, groups and import jobs,
 * with the backend's rules (API-NOTES.md section 5): insert-only bulk add that blanks
 * bad fields and reports them as error lines, upsert by id, masked phones on output,
 * empty fields omitted, jobs that insert their rows as time passes.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { GroupInfo, JobResponse, OrgMember } from './types.js';

export interface SimMember {
  id: string;
  memberNumber: string;
  name: string;
  surname: string;
  nationalId: string;
  birthDate: string;
  email: string;
  /** kept in clear here; answers mask it */
  phone: string;
  weight: number;
  other: Record<string, unknown>;
  createdAt: number;
}

export interface SimGroup {
  id: string;
  title: string;
  description: string;
  isAutoGroup: boolean;
  memberIds: Set<string>;
  createdAt: string;
  updatedAt: string;
}

export interface SimJob {
  jobId: string;
  rows: OrgMember[];
  /** rows already inserted */
  done: number;
  added: number;
  errors: string[];
  createdAt: number;
}

export interface VocdoniSimState {
  orgAddress: string;
  token: string;
  members: Map<string, SimMember>;
  groups: Map<string, SimGroup>;
  jobs: Map<string, SimJob>;
  /** how long an import job takes to insert all its rows, ms */
  jobDurationMs: number;
  /** the organization's plan limit; undefined = unlimited */
  memberLimit?: number;
  /** members signed in an ongoing process: cannot be deleted (409/40173) */
  signedMemberIds: Set<string>;
  /** serve the one-page doc's `/organizations/{a}/members/job/{id}` route too */
  legacyJobRoute: boolean;
  /** test hook: the next bulk add is accepted, then its connection is dropped */
  dropNextAddResponse: boolean;
  phoneSalt: string;
}

export const objectId = (): string => randomBytes(12).toString('hex');

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE_RE = /^\+?[0-9][0-9 ().-]{5,19}$/;

/** `YYYY-MM-DD`, or `DD/MM/YYYY` turned around; undefined when neither. */
export function normalizeBirthDate(text: string): string | undefined {
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const dmy = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(text);
  const [y, m, d] = iso ? [iso[1], iso[2], iso[3]] : dmy ? [dmy[3], dmy[2], dmy[1]] : [];
  if (!y) return undefined;
  const date = new Date(`${y}-${m}-${d}T00:00:00Z`);
  return Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(d) ? undefined : `${y}-${m}-${d}`;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}

/**
 * Read one incoming member the backend's way: a bad email, phone or birth date is
 * blanked and reported, never a reason to refuse the row. `line` is 1-based.
 */
export function readMember(input: OrgMember & Record<string, unknown>, line: number): { fields: Omit<SimMember, 'id' | 'createdAt'>; errors: string[] } {
  const errors: string[] = [];
  // Go's decoder matches keys case-insensitively: the docs' `nationalID` also lands
  const national = str(input.nationalId ?? input.nationalID ?? input.nationalid);
  let email = str(input.email).toLowerCase();
  if (email && !EMAIL_RE.test(email)) {
    errors.push(`line ${line}: invalid email "${email}": mail: missing '@' or angle-addr`);
    email = '';
  }
  let phone = str(input.phone);
  if (phone && !PHONE_RE.test(phone)) {
    errors.push(`line ${line}: invalid phone "${phone}": the string supplied is not a phone number`);
    phone = '';
  }
  let birthDate = str(input.birthDate);
  if (birthDate) {
    const ok = normalizeBirthDate(birthDate);
    if (!ok) errors.push(`line ${line}: invalid birthDate "${birthDate}": expected YYYY-MM-DD or DD/MM/YYYY`);
    birthDate = ok ?? '';
  }
  const w = str(input.weight);
  const weight = /^\d+$/.test(w) && Number(w) > 0 ? Number(w) : 1;
  const other = input.other && typeof input.other === 'object' ? { ...(input.other as Record<string, unknown>) } : {};
  return {
    fields: { memberNumber: str(input.memberNumber), name: str(input.name), surname: str(input.surname), nationalId: national, birthDate, email, phone, weight, other },
    errors,
  };
}

export function maskPhone(state: VocdoniSimState, phone: string): string {
  if (!phone) return '';
  return `${createHash('sha256').update(state.phoneSalt + phone).digest('hex').slice(0, 6)}***`;
}

/** A member as the API answers it: empty fields omitted, phone masked, weight a string. */
export function memberView(state: VocdoniSimState, m: SimMember): OrgMember {
  const out: OrgMember = { id: m.id };
  const put = (k: keyof OrgMember, v: string): void => {
    if (v) (out as Record<string, unknown>)[k] = v;
  };
  put('memberNumber', m.memberNumber);
  put('name', m.name);
  put('surname', m.surname);
  put('nationalId', m.nationalId);
  put('birthDate', m.birthDate);
  put('email', m.email);
  put('phone', maskPhone(state, m.phone));
  out.weight = String(m.weight);
  if (Object.keys(m.other).length > 0) out.other = m.other;
  return out;
}

let sequence = 0;
/** Insert-only: a new id every time, whatever memberNumber the row carries. */
export function insertMember(state: VocdoniSimState, fields: Omit<SimMember, 'id' | 'createdAt'>): SimMember {
  const m: SimMember = { ...fields, id: objectId(), createdAt: Date.now() * 1000 + (sequence++ % 1000) };
  state.members.set(m.id, m);
  for (const g of state.groups.values()) if (g.isAutoGroup) g.memberIds.add(m.id);
  return m;
}

export function deleteMember(state: VocdoniSimState, id: string): void {
  state.members.delete(id);
  for (const g of state.groups.values()) g.memberIds.delete(id);
}

/** Let time pass for every job: rows are inserted in order as their share of the duration elapses. */
export function advanceJobs(state: VocdoniSimState, now = Date.now()): void {
  for (const job of state.jobs.values()) {
    if (job.done >= job.rows.length) continue;
    const elapsed = now - job.createdAt;
    const target = state.jobDurationMs <= 0 ? job.rows.length : Math.min(job.rows.length, Math.floor((job.rows.length * elapsed) / state.jobDurationMs));
    for (; job.done < target; job.done++) {
      const { fields, errors } = readMember(job.rows[job.done] as OrgMember & Record<string, unknown>, job.done + 1);
      insertMember(state, fields);
      job.added++;
      job.errors.push(...errors);
    }
  }
}

export function jobProgress(job: SimJob): number {
  return job.rows.length === 0 ? 100 : Math.floor((job.done * 100) / job.rows.length);
}

/** The current `/jobs/{id}` answer; zero values omitted, errors only for managers. */
export function jobView(job: SimJob, showErrors: boolean): JobResponse {
  const progress = jobProgress(job);
  const result: NonNullable<JobResponse['result']> = {};
  if (job.added) result.added = job.added;
  if (progress) result.progress = progress;
  if (job.rows.length) result.total = job.rows.length;
  return {
    jobId: job.jobId,
    type: 'org_members',
    status: progress >= 100 ? 'completed' : 'pending',
    ...(showErrors && job.errors.length > 0 ? { errors: job.errors } : {}),
    result,
  };
}

export function groupView(g: SimGroup, withIds: boolean): GroupInfo {
  return {
    id: g.id,
    title: g.title,
    description: g.description,
    createdAt: g.createdAt,
    updatedAt: g.updatedAt,
    censusIds: [],
    membersCount: g.memberIds.size,
    isAutoGroup: g.isAutoGroup,
    ...(withIds ? { memberIds: [...g.memberIds] } : {}),
  };
}

export function newGroup(title: string, description: string, isAutoGroup: boolean, memberIds: Iterable<string>): SimGroup {
  const now = new Date().toISOString();
  return { id: objectId(), title, description, isAutoGroup, memberIds: new Set(memberIds), createdAt: now, updatedAt: now };
}

const SORT_KEYS = ['name', 'surname', 'email', 'memberNumber', 'nationalId', 'weight', 'createdAt'] as const;

/** The list order the backend uses. */
export function compareMembers(a: SimMember, b: SimMember): number {
  for (const k of SORT_KEYS) {
    const x = a[k];
    const y = b[k];
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** Case-insensitive regex over the searchable fields; undefined when the regex is bad. */
export function searchMatcher(search: string): ((m: SimMember) => boolean) | undefined {
  if (!search) return () => true;
  let re: RegExp;
  try {
    re = new RegExp(search, 'i');
  } catch {
    return undefined;
  }
  return (m) => [m.email, m.memberNumber, m.nationalId, m.name, m.surname, m.birthDate].some((v) => re.test(v));
}
