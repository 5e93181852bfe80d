/**
 * IKANOW Infinit.e social/person wire types (API-NOTES.md §2). Note the casing split:
 * the person object says `firstName`, the register/update body says `firstname`.
 */

/** Every answer, success or not, is HTTP 200 with this envelope; `data` is omitted when null. */
export interface IkanowEnvelope<T = unknown> {
  response: { action: string; success: boolean; message: string; time?: number };
  data?: T;
}

/** get/list `data`: the person object. Dates as "MMM d, yyyy hh:mm:ss a 'UTC'". */
export interface IkanowPerson {
  _id: string;
  created?: string;
  modified?: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  displayName?: string;
  phone?: string;
  communities?: Array<{ _id: string; name?: string }>;
  WPUserID?: string;
  SubscriptionID?: string;
  SubscriptionTypeID?: string;
  SubscriptionStartDate?: string;
  SubscriptionEndDate?: string;
  accountType?: string;
  /** lower-case, e.g. "active" */
  accountStatus?: string;
  [key: string]: unknown;
}

/** `user` of the register/update setup body. Only `email[0]` is used. */
export interface IkanowSetupUser {
  WPUserID?: string;
  email?: string[];
  firstname?: string;
  lastname?: string;
  phone?: string;
  mobile?: string;
  created?: string;
  modified?: string;
  SubscriptionID?: string;
  SubscriptionTypeID?: string;
  SubscriptionStartDate?: string;
  SubscriptionEndDate?: string;
}

/** `auth` of the setup body. `password` must be SHA-256 + base64 (44 characters). */
export interface IkanowSetupAuth {
  password?: string;
  accountType?: string;
  accountStatus?: 'ACTIVE' | 'DISABLED' | 'PENDING';
  WPUserID?: string;
  /** an admin changing someone's e-mail puts the OLD e-mail here */
  username?: string;
  apiKey?: string;
  created?: string;
  modified?: string;
}

export interface IkanowSetup {
  user?: IkanowSetupUser;
  auth?: IkanowSetupAuth;
}

/** The documented messages the client maps to error kinds (PersonHandler, RESTTools). */
export const IKANOW_MESSAGES = {
  notLoggedIn: 'Insufficient privileges or not logged in',
  cookieExpired: 'Cookie session expired or never existed, please login first',
  needUserAndAuth: 'Need to specify both user and auth objects',
  needEmail: 'Need to specify email',
  needName: 'Need to specify one of firstname,lastname',
  userExists: 'User already exists, both WPUserId and first email must be unique',
  needPassword: 'Need to specify password',
  saveError: 'error while saving wp objects',
  needWpUserId: 'Need to specify WPUserID (or email address if not integrated via WordPress)',
  cantFindUser: "Can't find user specified by WPUserID",
  emailNotUnique: 'This primary email address is not unique',
  updateError: 'error while updating wp objects',
  apiKeyNeedsAdmin: 'You must be admin in secure mode to set an API key',
  registered: 'User Registered Successfully',
  updated: 'User Updated Successfully',
  listed: 'List returned successfully',
  emptyList: 'No list to return returned',
} as const;
