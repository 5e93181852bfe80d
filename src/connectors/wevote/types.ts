/**
 * Wire types of WeVoteServer's `voterUpdate` (API-NOTES.md section 4 and
 * wevote-voterUpdate.txt). The request is form-encoded: every value travels as text.
 */
import { z } from 'zod';

/** Every interface bit WeVote defines: SUPPORT_OPPOSE_MODAL_SHOWN=1 .. 128. */
export const INTERFACE_FLAGS_MASK = 0xff;
/** Every notification bit WeVote defines: NEWSLETTER_OPT_IN=1 .. 131072 (18 bits). */
export const NOTIFICATION_FLAGS_MASK = 0x3ffff;
export const NEWSLETTER_OPT_IN = 1;

/** The string fields voterUpdate takes, each with its `<field>_changed` companion on POST. */
export const WEVOTE_STRING_FIELDS = [
  'first_name',
  'middle_name',
  'last_name',
  'full_name',
  'facebook_email',
  'facebook_profile_image_url_https',
  'twitter_profile_image_url_https',
] as const;
export type WeVoteStringField = (typeof WEVOTE_STRING_FIELDS)[number];

/** The integer fields: absent means "no change". */
export const WEVOTE_INT_FIELDS = [
  'interface_status_flags',
  'flag_integer_to_set',
  'flag_integer_to_unset',
  'notification_settings_flags',
  'notification_flag_integer_to_set',
  'notification_flag_integer_to_unset',
] as const;
export type WeVoteIntField = (typeof WEVOTE_INT_FIELDS)[number];

/**
 * The form fields `toRemote` produces for one member (lookup email, strings with their
 * `_changed` flags, bit operations). Credentials and create_account are added by the
 * client, so they never enter the change hash.
 */
export type WeVoteForm = Record<string, string | number>;

/** The voterUpdate answer (always HTTP 200). */
export interface VoterUpdateResponse {
  status: string;
  success: boolean;
  voter_device_id?: string;
  voter_updated?: boolean;
  /** not in the documented voterUpdate answer; read when present (see simulator.ts) */
  we_vote_id?: string;
  voter_we_vote_id?: string;
  voter_created?: boolean;
  first_name?: string | false | null;
  middle_name?: string | false | null;
  last_name?: string | false | null;
  facebook_email?: string | false | null;
  facebook_profile_image_url_https?: string | false | null;
  twitter_profile_image_url_https?: string | false | null;
  interface_status_flags?: number;
  notification_settings_flags?: number;
  flag_integer_to_set?: number | false;
  flag_integer_to_unset?: number | false;
  notification_flag_integer_to_set?: number | false;
  notification_flag_integer_to_unset?: number | false;
  voter_deleted?: boolean;
  voter_not_deleted?: boolean;
}

/** Connection options of a `wevote` connection. */
export const wevoteOptionsSchema = z
  .object({
    /** create a voter when no voter has the member's email @defaultValue false */
    createAccount: z.boolean().default(false),
    /** push interface_status_flags as bit set/unset @defaultValue true */
    pushInterfaceFlags: z.boolean().default(true),
    /** push notification_settings_flags as bit set/unset @defaultValue true */
    pushNotificationFlags: z.boolean().default(true),
  })
  .strict();
export type WeVoteOptions = z.infer<typeof wevoteOptionsSchema>;
