/**
 * Glossary
 *
 * - connection: one configured instance of an external system (`convio-main`), with its
 *   kind, base URL, credentials (from env), rate limit and trust rank.
 * - connector: the code for one kind (client, mapping, pull, push, simulator).
 * - source record: one person as a connection or a CSV row gives it, before mapping.
 * - input record: a source record mapped to canonical field names, values still raw strings.
 * - canonical member: one row of `members`, the merged truth.
 * - link: (connection, external id) -> member; which remote record is which member.
 * - run: one execution of pull, import, push, migrate or revert, with counts and status.
 * - source: who set a field: a connection name, or `file:<name>` for a CSV without one.
 * - trust: a connection's rank; a field set by a higher rank is not overwritten by a lower.
 * - job: a declared unit of work in `jobs/*.yaml` that the worker runs.
 */

/** Identity keys, strongest first. */
export const IDENTITY_KEYS = ['cons_id', 'member_id', 'email'] as const;
export type IdentityKey = (typeof IDENTITY_KEYS)[number];

export const TEXT_FIELDS = [
  'cons_id',
  'member_id',
  'email',
  'first_name',
  'middle_name',
  'last_name',
  'phone',
  'national_id',
  'sex',
  'language',
  'address',
  'city',
  'province',
  'postal_code',
  'country',
  'photo_url',
  'facebook_photo_url',
  'twitter_photo_url',
] as const;
export const DATE_FIELDS = ['birth_date', 'join_date'] as const;
export const INT_FIELDS = ['weight', 'interface_status_flags', 'notification_settings_flags'] as const;
export const LIST_FIELDS = ['groups', 'interests', 'centers'] as const;
export const BOOL_FIELDS = ['receive_newsletter'] as const;

export type TextField = (typeof TEXT_FIELDS)[number];
export type DateField = (typeof DATE_FIELDS)[number];
export type IntField = (typeof INT_FIELDS)[number];
export type ListField = (typeof LIST_FIELDS)[number];
export type BoolField = (typeof BOOL_FIELDS)[number];

/** Every canonical field a source can set, in export order (`other` last). */
export const MEMBER_FIELDS = [
  'cons_id',
  'member_id',
  'email',
  'first_name',
  'middle_name',
  'last_name',
  'phone',
  'national_id',
  'birth_date',
  'sex',
  'language',
  'address',
  'city',
  'province',
  'postal_code',
  'country',
  'weight',
  'groups',
  'interests',
  'centers',
  'receive_newsletter',
  'join_date',
  'interface_status_flags',
  'notification_settings_flags',
  'photo_url',
  'facebook_photo_url',
  'twitter_photo_url',
  'other',
] as const;
export type MemberField = (typeof MEMBER_FIELDS)[number];

export type MemberValues = { [K in TextField | DateField]?: string | null } & {
  [K in IntField]?: number | null;
} & { [K in ListField]?: string[] | null } & { [K in BoolField]?: boolean | null } & {
  other?: Record<string, string> | null;
};

/** A canonical member as the store holds it. */
export interface Member extends MemberValues {
  id: string;
  /**
   * Field provenance: field -> id of the run that last set it. A field not listed was
   * set by the run that created the member (`created_run_id`). The run gives the
   * source (connection or file) and the time; keeping only its id keeps a million
   * members' provenance small.
   */
  provenance: Record<string, number>;
  created_run_id: number | null;
  created_at?: string;
  updated_at?: string;
}

/** Where a record came from, for rejects, conflicts and the change log. */
export interface RecordRef {
  /** 1-based line number of a CSV row (the line where the row starts). */
  line?: number;
  /** external id at the connection */
  externalId?: string;
  /** record number in a pulled stream (1-based) */
  index?: number;
  /** when the record last changed at its source, if the source says (ISO 8601) */
  changedAt?: string;
  /** a file's `status` column: `removed` removes the member (DESIGN.md "Lifecycle") */
  status?: 'active' | 'removed';
}

/** A source record mapped to canonical names; values still raw strings. */
export interface InputRecord {
  ref: RecordRef;
  values: Partial<Record<Exclude<MemberField, 'other'>, string>>;
  other?: Record<string, string>;
  /** the raw source record, kept for rejects and conflicts */
  raw: Record<string, unknown>;
}

/** A record after normalization: typed canonical values, nothing empty. */
export interface NormalizedRecord {
  ref: RecordRef;
  values: MemberValues;
  raw: Record<string, unknown>;
}

export type ConflictReason =
  | 'ambiguous_email'
  | 'cons_id_mismatch'
  | 'member_id_mismatch'
  | 'duplicate_cons_id'
  | 'duplicate_member_id'
  | 'duplicate_email';

/** Which identity rule matched a record to a member. */
export type MatchRule = 'link' | 'cons_id' | 'member_id' | 'email' | 'new';

export type RunKind = 'import' | 'pull' | 'push' | 'migrate' | 'revert' | 'split' | 'resolve' | 'merge' | 'remove' | 'erase' | 'purge';
/** `interrupted`: stopped on request after a committed batch; running it again continues. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface RunCounts {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  conflicts: number;
  rejected: number;
}

export const emptyCounts = (): RunCounts => ({
  rows: 0,
  created: 0,
  updated: 0,
  unchanged: 0,
  conflicts: 0,
  rejected: 0,
});
