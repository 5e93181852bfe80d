/**
 * Wire types of the GNOSS-style community API v3 (API-NOTES.md section 3). Property
 * names are the server's, typos included (`provice`, `languaje`), because the JSON
 * serializer uses them as declared.
 */
import { z } from 'zod';

/** What a .NET default GUID looks like in a response: "no value". */
export const EMPTY_GUID = '00000000-0000-0000-0000-000000000000';
/** What a .NET default DateTime looks like in a response: "no value". */
export const EMPTY_DATE = '0001-01-01T00:00:00';

export interface ExtraUserData {
  name_id?: string | null;
  name?: string | null;
  value_id?: string | null;
  value?: string | null;
  short_name?: string | null;
}

export interface UserEvent {
  event_id?: string | null;
  name?: string | null;
  /** capital D, as the server declares it */
  Date?: string | null;
}

export interface ThesaurusCategory {
  category_id?: string | null;
  category_name?: string | null;
  parent_category_id?: string | null;
  category_images?: Record<string, string> | null;
}

/** The `User` model: get-by-id answers it, modify-user takes it. */
export interface GnossUser {
  name?: string | null;
  last_name?: string | null;
  email?: string | null;
  password?: string | null;
  extra_data?: ExtraUserData[] | null;
  user_events?: UserEvent[] | null;
  aux_data?: string | null;
  community_id?: string | null;
  community_short_name?: string | null;
  user_short_name?: string | null;
  user_id?: string | null;
  id_card?: string | null;
  /** `YYYY-MM-DDT00:00:00`; EMPTY_DATE when unknown */
  born_date?: string | null;
  country_id?: string | null;
  country?: string | null;
  province_id?: string | null;
  provice?: string | null;
  city?: string | null;
  address?: string | null;
  postal_code?: string | null;
  join_community_date?: string | null;
  /** `H` = hombre (male), `M` = mujer (female) */
  sex?: string | null;
  preferences?: ThesaurusCategory[] | null;
  receive_newsletter?: boolean | null;
  languaje?: string | null;
  photo?: string | null;
  num_access?: number | null;
  last_login?: string | null;
}

/** `community/get-community-information`: `users` lists every member's user_id. */
export interface CommunityInformation {
  name: string;
  short_name: string;
  description: string;
  tags: string;
  type: number;
  access_type: number;
  categories: string[];
  users: string[];
  state: number;
}

/**
 * Pull checkpoint. `{ searchDate }` alone: the last listing finished, the next pull asks
 * for users modified since then (less `lookbackSeconds`). `searchDate` is our clock when
 * that listing started. With `startedAt`/`offset`: a listing was cut short; it
 * is repeated (since `searchDate`, or in full when absent) and the first `offset` ids
 * are skipped.
 */
export interface CommunityCursor {
  searchDate?: string;
  startedAt?: string;
  offset?: number;
}

/** Connection options of a `community` connection. */
export const communityOptionsSchema = z
  .object({
    /** the community's short name: get-community-information and get-by-id need it */
    communityShortName: z.string().min(1),
    /** the community's GUID: modify-user refuses the short name */
    communityId: z.guid(),
    /** country name or code (as the canonical `country` holds it) -> country_id GUID */
    countryIds: z.record(z.string(), z.guid()).default({}),
    /** province name (canonical `province`) -> province_id GUID */
    provinceIds: z.record(z.string(), z.guid()).default({}),
    /** user ids fetched (one get-by-id each) per pulled page @defaultValue 100 */
    pageSize: z.number().int().min(1).max(1000).default(100),
    /**
     * seconds before the last pull's start that the next one asks get-modified-users from:
     * the server stamps changes with its own clock, which may be behind ours; users read
     * again come out unchanged @defaultValue 300
     */
    lookbackSeconds: z.number().int().min(0).default(300),
  })
  .strict();
export type CommunityOptions = z.infer<typeof communityOptionsSchema>;
