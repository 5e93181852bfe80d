/**
 * The connector contract. A connector is a plain object for one kind of external system,
 * registered in `registry.ts`. Its folder holds index.ts (this object), client.ts (the got
 * client: auth, envelope and error decoding), mapping.ts (pure: remote <-> canonical),
 * types.ts (wire types) and simulator.ts (a loopback HTTP server that behaves as
 * API-NOTES.md says).
 */
import type { z } from 'zod';
import type { ConnectionConfig, ConnectorKind } from '../config/schema.js';
import type { SimFaults } from '../http/sim-server.js';
import type { Logger } from '../log.js';
import type { InputRecord, Member } from '../types.js';

export interface ConnectorContext {
  /** connection name, e.g. `convio-main` */
  name: string;
  config: ConnectionConfig;
  log: Logger;
  signal?: AbortSignal;
}

/** One page of a pull: records mapped to canonical names, and the cursor after it. */
export interface PullPage {
  records: InputRecord[];
  /** JSON-serializable checkpoint; handing it back to pull resumes after this page */
  cursor: unknown;
  /** the listing is known to leave people out (a capped answer): the pull then marks nobody removed */
  partial?: boolean;
}

export interface PullOptions {
  /** the cursor of the last committed page, undefined for a full pull */
  cursor?: unknown;
}

/** The remote side of one member, as push sends it. */
export interface PushItem {
  member: Member;
  /** the remote id, when a link to this connection exists */
  remoteId?: string;
  /** `toRemote(member)`, already computed */
  payload: Record<string, unknown>;
}

/**
 * The outcome of pushing one member. A connector does not throw for a failed member:
 * it returns `success: false` with the error (Grouparoo's exporter style); the caller
 * decides retry with `isRetryable(error)`.
 */
export type PushResult =
  | { success: true; action: 'created' | 'updated'; remoteId?: string; requests: number }
  | { success: true; action: 'skipped'; reason: string; requests: number }
  | { success: false; error: Error; requests: number };

/** A member to delete at a connection (`push.deletes`): the remote id it holds, the member as we know it. */
export interface DeleteItem {
  memberId: string;
  remoteId?: string;
  member: Member;
  /** the payload last pushed or read (WeVote finds a voter by its e-mail or phone only) */
  payload?: Record<string, unknown> | null;
}

/**
 * The outcome of deleting one member. `gone`: the remote record no longer exists (its id
 * is forgotten); false when the system keeps the person and only lets go of them (Convio:
 * removed from the connection's groups).
 */
export type DeleteResult = { success: true; gone: boolean; requests: number } | { success: false; error: Error; requests: number };

/** One item after a connector's bulk step: done there, or still to send through `push`. */
export type PreparedItem = { done: PushResult } | { send: PushItem };

export interface PreparedBatch {
  items: PreparedItem[];
  /** requests made for the batch as a whole */
  requests: number;
}

export interface SimulatorOptions {
  /** 0 picks a free port */
  port?: number;
  host?: string;
  /** fault injection */
  faults?: FaultOptions;
}

/**
 * Fault injection of a simulator (defined once, with the loopback server in src/http):
 * errorRate (share answered 500), latencyMs, rateLimitRate (share answered 429 with
 * Retry-After retryAfterSeconds), resetRate (share of sockets destroyed), seed.
 */
export type FaultOptions = SimFaults;

export interface SimulatorHandle {
  /** base URL to put in a connection's `baseUrl` */
  url: string;
  /** requests served, by route (method + path) and in total */
  requests: { total: number; byRoute: Record<string, number> };
  /** change fault options while running */
  setFaults(faults: FaultOptions): void;
  close(): Promise<void>;
}

/** What `check` verifies beyond reaching the system and the credentials. */
export interface CheckNeeds {
  /** the rights a pull needs (reading the people) */
  pull: boolean;
  /** the rights a push needs (finding, updating, adding people) */
  push: boolean;
}

export interface Connector<Options = Record<string, unknown>> {
  kind: ConnectorKind;
  /** validates `options` of a connection of this kind */
  optionsSchema: z.ZodType<Options>;
  /** names of `credentials` keys this kind needs */
  credentialKeys: readonly string[];
  /**
   * Verify that the connection answers, that the credentials are accepted and that they
   * carry the rights `needs` asks for (what the configured steps do with it), changing
   * nothing at the remote. Resolves with what was verified (a short phrase), rejects with
   * the failure (a ConnectionError for the connection's own).
   */
  check(ctx: ConnectorContext, needs?: CheckNeeds): Promise<string | void>;
  /**
   * true when the cursor after a complete pull is still meaningful (a "modified since"
   * date): the next pull continues from it. Otherwise a complete pull starts over.
   */
  incremental?: boolean;
  /** pages of people, resuming after `opts.cursor` */
  pull?(ctx: ConnectorContext, opts: PullOptions): AsyncGenerator<PullPage>;
  /**
   * pure: the payload this connection gets for a member (hashed to detect change), or a
   * reason the system cannot take it (skipped up front, shown in plans). `remote.remoteId`
   * is the member's id there when known (push_state or link): some systems take a member
   * without keys only as an update.
   */
  toRemote?(member: Member, options: Options, remote?: { remoteId?: string }): Record<string, unknown> | { skip: string };
  /** send one member */
  push?(ctx: ConnectorContext, item: PushItem): Promise<PushResult>;
  /**
   * The bulk step of a push, for a system that adds people in bulk: given a batch of
   * selected members, it does what is cheaper done for all at once (read the remote list,
   * bulk-add the new people) and returns, per item in order, either the final result or
   * the item to send one by one through `push` (with the remote id it found), and the
   * requests it made that no single item's result counts (the list read, the group).
   */
  prepareBatch?(ctx: ConnectorContext, items: PushItem[]): Promise<PreparedBatch>;
  /**
   * Delete these members there by the system's own call (`push.deletes`), one result per
   * item in order; a member the system no longer has counts as deleted. A connection's own
   * failure (ConnectionError) is thrown, as in push.
   */
  deleteMembers?(ctx: ConnectorContext, items: DeleteItem[]): Promise<DeleteResult[]>;
}
