/**
 * Runs a job's units in order, each holding the locks of the connections it works on.
 * Shared by the queue worker and `member-sync run`; they differ only in what happens when
 * a connection is busy (the worker delays the job, `run` waits) and in where they record
 * a unit as done.
 */
import type { ConnectionLocks, HeldLocks } from './connection-lock.js';
import { runUnit, type UnitContext } from './run-unit.js';
import type { StepResult } from './step-results.js';
import { unitConnections, unitLabel, type Unit } from './units.js';

export interface RunUnitsOptions extends UnitContext {
  locks: ConnectionLocks;
  /** `<index>:<label>` of units done before (a resumed job) */
  done?: ReadonlySet<string>;
  /** a connection is busy: resolve to try again, or throw to give up */
  onBusy(connection: string, label: string): Promise<void>;
  onUnitStart?(index: number, label: string): void | Promise<void>;
  onUnitDone?(key: string, results: StepResult[]): void | Promise<void>;
}

export const unitKey = (index: number, u: Unit): string => `${index}:${unitLabel(u)}`;

async function acquire(u: Unit, opts: RunUnitsOptions): Promise<HeldLocks> {
  const connections = unitConnections(u, opts.config);
  for (;;) {
    const attempt = await opts.locks.tryAcquire(connections);
    if (attempt.ok) return attempt.held;
    await opts.onBusy(attempt.busy, unitLabel(u));
  }
}

export async function runUnits(units: Unit[], opts: RunUnitsOptions): Promise<StepResult[]> {
  const all: StepResult[] = [];
  for (const [i, u] of units.entries()) {
    const key = unitKey(i, u);
    if (opts.done?.has(key)) continue;
    const held = await acquire(u, opts);
    let results: StepResult[];
    try {
      await opts.onUnitStart?.(i, unitLabel(u));
      const signal = opts.signal ? AbortSignal.any([opts.signal, held.lost]) : held.lost;
      results = await runUnit(u, { ...opts, signal, log: opts.log.child({ step: unitLabel(u) }) });
    } finally {
      await held.release();
    }
    await opts.onUnitDone?.(key, results);
    all.push(...results);
  }
  return all;
}
