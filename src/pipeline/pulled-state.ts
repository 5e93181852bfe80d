/**
 * What a pull tells a later push to the same connection: each record read is what the
 * remote holds for its member. After every committed batch, the connection's push
 * payload is computed from each record as read (normalized as ingest normalizes it) and
 * recorded in push_state with the record's id, so the first push after a pull sends only
 * the members whose payload differs from what the connection itself gave us.
 */
import type { Knex } from 'knex';
import type { Config } from '../config/schema.js';
import { connectorFor } from '../connectors/registry.js';
import type { ConnectionConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { normalizeRecord } from '../members/normalize.js';
import { recordPulledState, type PulledState } from '../store/push-repo.js';
import type { Member } from '../types.js';
import type { InputBatch } from './ingest.js';
import { payloadHash } from './push-plan.js';

export interface PulledStateRecorder {
  /** a batch that has committed (its links exist) */
  add(batch: InputBatch): void;
  /** every batch added is recorded; a failure is logged, not thrown (it costs a resend, nothing else) */
  done(): Promise<void>;
}

/** The push payload a connection's record stands for; undefined when it would not be pushed. */
export function pulledPayloads(conn: ConnectionConfig, config: Readonly<Config>, batch: InputBatch): PulledState[] {
  const connector = connectorFor(conn.kind);
  if (!connector.push || !connector.toRemote) return [];
  const options = connector.optionsSchema.parse(conn.options ?? {});
  const out: PulledState[] = [];
  for (const item of batch.items) {
    if ('rejected' in item || !item.ref.externalId) continue;
    const r = normalizeRecord(item, { defaultCountry: config.normalize.defaultCountry });
    if (!r.ok) continue;
    const member: Member = { id: '', provenance: {}, created_run_id: null, ...r.record.values };
    const payload = connector.toRemote(member, options, { remoteId: item.ref.externalId });
    if (Object.keys(payload).length === 1 && typeof payload.skip === 'string') continue;
    out.push({ externalId: item.ref.externalId, hash: payloadHash(payload), payload });
  }
  return out;
}

/** For a pull of `connection` (a connection member-sync also pushes to); undefined otherwise. */
export function pulledStateRecorder(db: Knex, connection: string, config: Readonly<Config>, log: Logger, runId: number | null): PulledStateRecorder | undefined {
  const conn = config.connections[connection];
  const connector = conn && connectorFor(conn.kind);
  if (!connector?.push || !connector.toRemote) return undefined;
  let chain: Promise<void> = Promise.resolve();
  let failed = false;
  return {
    add(batch) {
      chain = chain.then(async () => {
        if (failed) return;
        try {
          await recordPulledState(db, connection, runId, pulledPayloads(conn, config, batch));
        } catch (err) {
          failed = true;
          log.warn({ err }, 'could not record what the pull read as the push state; the next push may resend members it read');
        }
      });
    },
    done: () => chain,
  };
}
