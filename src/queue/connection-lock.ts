/**
 * At most one job works on a connection at a time, across every worker process and both
 * queue backends: a step holds a PostgreSQL session-level advisory lock per connection it
 * touches, in member-sync's own database (which every worker shares, whichever queue
 * backend it uses). The lock lives on a session of its own, outside the knex pool, so a
 * held lock never takes a pool slot; a process that dies (even SIGKILL) loses its session
 * and with it the lock, so nothing is left locked.
 *
 * Locks are only tried, never waited on while holding another: a step that finds one of
 * its connections busy releases what it took and waits outside (the worker delays the
 * job), so two jobs can never deadlock.
 */
import pg from 'pg';
import type { Logger } from '../log.js';

/** Advisory lock class of "a job works on this connection" (push-repo uses 727003, ingest 727002). */
const LOCK_CLASS = 727004;

export interface HeldLocks {
  /** aborted if the lock session is lost while held */
  lost: AbortSignal;
  release(): Promise<void>;
}

export type LockAttempt = { ok: true; held: HeldLocks } | { ok: false; busy: string };

export interface ConnectionLocks {
  tryAcquire(connections: string[]): Promise<LockAttempt>;
}

const NOTHING: HeldLocks = { lost: new AbortController().signal, release: async () => {} };

export function connectionLocks(databaseUrl: string, log: Logger): ConnectionLocks {
  return {
    async tryAcquire(connections) {
      const names = [...new Set(connections)].sort();
      if (names.length === 0) return { ok: true, held: NOTHING };
      const client = new pg.Client({ connectionString: databaseUrl, application_name: 'member-sync-lock' });
      const lost = new AbortController();
      let released = false;
      client.on('error', (err) => {
        if (released) return;
        log.error({ err, connections: names }, 'lost the session holding connection locks; stopping the step');
        lost.abort(new Error('connection lock lost'));
      });
      await client.connect();
      try {
        for (const name of names) {
          const { rows } = await client.query('select pg_try_advisory_lock($1, hashtext($2)) as ok', [LOCK_CLASS, name]);
          if (!rows[0].ok) {
            released = true;
            await client.end();
            return { ok: false, busy: name };
          }
        }
      } catch (err) {
        released = true;
        await client.end().catch(() => undefined);
        throw err;
      }
      return {
        ok: true,
        held: {
          lost: lost.signal,
          release: async () => {
            if (released) return;
            released = true;
            // ending the session releases every lock it holds
            await client.end().catch(() => undefined);
          },
        },
      };
    },
  };
}
