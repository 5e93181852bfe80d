/**
 * Convio / Luminate Online Constituent API wire types (API-NOTES.md §1). Every scalar
 * arrives as a string (or null when visible but empty), and a list of one element
 * arrives as that element: `OneOrMany` marks the places where that happens.
 */

/** Scalar as Convio sends it: a string, null (visible, no value) or absent (not visible). */
export type ConvioScalar = string | null | undefined;

/** `[]`, `{}` (empty), one object, or an array: all seen for the same key. */
export type OneOrMany<T> = T | T[] | Record<string, never> | undefined;

/** `getUser` → `getConsResponse` (nested dot-notation groups). */
export interface ConvioCons {
  cons_id?: ConvioScalar;
  member_id?: ConvioScalar;
  user_name?: ConvioScalar;
  gender?: ConvioScalar;
  birth_date?: ConvioScalar;
  home_phone?: ConvioScalar;
  name?: { title?: ConvioScalar; first?: ConvioScalar; middle?: ConvioScalar; last?: ConvioScalar; suffix?: ConvioScalar } | null;
  email?: { primary_address?: ConvioScalar } | null;
  primary_address?: {
    street1?: ConvioScalar;
    street2?: ConvioScalar;
    street3?: ConvioScalar;
    city?: ConvioScalar;
    state?: ConvioScalar;
    zip?: ConvioScalar;
    country?: ConvioScalar;
  } | null;
  [key: string]: unknown;
}

/** One `member` of `getGroupMembersResponse`: flat field names as in `fields`. */
export interface ConvioGroupMember {
  cons_id?: ConvioScalar;
  member_id?: ConvioScalar;
  first_name?: ConvioScalar;
  middle_name?: ConvioScalar;
  last_name?: ConvioScalar;
  primary_email?: ConvioScalar;
  home_street1?: ConvioScalar;
  home_street2?: ConvioScalar;
  home_street3?: ConvioScalar;
  home_city?: ConvioScalar;
  home_stateprov?: ConvioScalar;
  home_county?: ConvioScalar;
  home_zip?: ConvioScalar;
  home_country?: ConvioScalar;
  home_phone?: ConvioScalar;
  gender?: ConvioScalar;
  birth_date?: ConvioScalar;
  [key: string]: unknown;
}

/** The `fields` member-sync asks getGroupMembers for (the documented default plus a few). */
export const GROUP_MEMBER_FIELDS = [
  'cons_id',
  'member_id',
  'first_name',
  'middle_name',
  'last_name',
  'primary_email',
  'home_street1',
  'home_street2',
  'home_street3',
  'home_city',
  'home_stateprov',
  'home_county',
  'home_zip',
  'home_country',
  'home_phone',
  'gender',
  'birth_date',
] as const;

export interface ConvioErrorBody {
  errorResponse: { code?: ConvioScalar; message?: ConvioScalar };
}

export interface ConvioUserField {
  name: string;
  label?: string;
  valueType?: string;
  maxChars?: string;
}

/** Connection credentials (values come from the environment). */
export interface ConvioCredentials {
  apiKey: string;
  loginName: string;
  loginPassword: string;
}

/** The three keys update/createOrUpdate/getUser look a constituent up by. */
export interface ConvioLookup {
  cons_id?: string;
  member_id?: string;
  primary_email?: string;
}

/** Form fields of an update or create, all strings. */
export type ConvioForm = Record<string, string>;

/** Constituent error codes that member-sync reacts to (the rest map to other/validation). */
export const CONVIO_CODES = {
  UNABLE: '1',
  BAD_API_KEY: '2',
  AUTH_FAILED: '3',
  IP_REFUSED: '4',
  NEEDS_AUTH_TOKEN: '5',
  BAD_METHOD: '6',
  SSO_FAILED: '7',
  MATCHED_MANY: '8',
  MISSING_PARAMS: '9',
  MISSING_FIELDS: '10',
  ADD_DUPLICATE: '11',
  DUPLICATE_USER_NAME: '12',
  DUPLICATE_EMAIL: '13',
  METHOD_NOT_ALLOWED: '14',
  UPDATE_MATCHED_MANY: '15',
  NOT_FOUND: '16',
  GROUP_ERROR: '19',
} as const;
