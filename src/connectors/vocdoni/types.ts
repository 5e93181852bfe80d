/**
 * Wire types of the Vocdoni SaaS backend's members, groups and jobs routes
 * (API-NOTES.md section 5, vocdoni-members-and-groups.txt). The code is the contract
 * where the stale api/docs.md disagrees.
 */
import { z } from 'zod';

/** `apicommon.OrgMember`. Output omits empty fields; `weight` is a string. */
export interface OrgMember {
  /** 24-hex ObjectId */
  id?: string;
  memberNumber?: string;
  name?: string;
  surname?: string;
  nationalId?: string;
  /** YYYY-MM-DD on output; DD/MM/YYYY also accepted on input */
  birthDate?: string;
  email?: string;
  /** masked on output: 6 hex characters of a salted hash + "***" */
  phone?: string;
  /** write-only */
  password?: string;
  weight?: string;
  other?: Record<string, unknown>;
}

export interface Pagination {
  totalItems: number;
  previousPage: number | null;
  currentPage: number;
  nextPage: number | null;
  lastPage: number;
}

export interface MembersPage {
  pagination: Pagination;
  members: OrgMember[];
}

/** POST members: sync answer, or `jobId` with `?async=true`. */
export interface AddMembersResponse {
  added: number;
  errors: string[] | null;
  jobId?: string;
  censusJobIds?: string[];
}

/** GET /jobs/{id}. Zero values are omitted. */
export interface JobResponse {
  jobId: string;
  type?: string;
  status?: 'pending' | 'completed' | string;
  errors?: string[];
  result?: { added?: number; progress?: number; total?: number };
}

/**
 * The one-page doc's older job answer (`GET .../members/job/{id}`): flat, no envelope.
 * A client reads both shapes.
 */
export interface LegacyJobResponse {
  added?: number;
  total?: number;
  progress?: number;
  errors?: string[];
}

export interface UpsertMemberResponse {
  id: string;
  censusJobIds?: string[];
  errors?: string[];
}

export interface DeleteMembersResponse {
  count: number;
  censusJobIds?: string[];
  errors?: string[];
}

export interface GroupInfo {
  id: string;
  title: string;
  description?: string;
  createdAt?: string;
  updatedAt?: string;
  censusIds?: string[];
  membersCount?: number;
  isAutoGroup?: boolean;
  memberIds?: string[];
}

export interface GroupsPage {
  pagination: Pagination;
  groups: GroupInfo[];
}

/** Error body, sent as text/plain although it is JSON. */
export interface VocdoniErrorBody {
  error: string;
  code: number;
  data?: unknown;
}

/** Pull checkpoint: the page to read next; null once the last page was read. */
export type VocdoniCursor = { page: number } | null;

/** Connection options of a `vocdoni` connection. */
export const vocdoniOptionsSchema = z
  .object({
    /** the organization's address, as in `/organizations/{address}/...` */
    organizationAddress: z.string().min(1),
    /** members per pulled page; the server clamps to 100 @defaultValue 100 */
    pageSize: z.number().int().min(1).max(100).default(100),
    /** wait between polls of an import job @defaultValue 1000 */
    jobPollMs: z.number().int().min(1).default(1000),
    /** give up on an import job after this long @defaultValue 300000 */
    jobTimeoutMs: z.number().int().min(1).default(300_000),
    /** title of the all-members group created when the org has none @defaultValue "All members" */
    allMembersGroupTitle: z.string().min(1).default('All members'),
  })
  .strict();
export type VocdoniOptions = z.infer<typeof vocdoniOptionsSchema>;
