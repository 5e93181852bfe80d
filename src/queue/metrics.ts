/**
 * Prometheus metrics of one worker process (prom-client, a registry of its own): records
 * read and what became of them, pushes, job durations, and the queue depth read from the
 * backend at each scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunCounts } from '../types.js';
import type { PushResult, StepResult } from './step-results.js';

export interface WorkerMetrics {
  registry: Registry;
  recordResults(results: StepResult[]): void;
  observeJob(job: string, status: 'completed' | 'failed' | 'interrupted' | 'delayed', seconds: number): void;
}

const OUTCOMES = ['created', 'updated', 'unchanged', 'conflicts', 'rejected'] as const;

export function createMetrics(queueDepth?: () => Promise<Record<string, number>>): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'member_sync_' });
  const read = new Counter({ name: 'member_sync_records_read_total', help: 'Records read by imports and pulls', labelNames: ['kind', 'source'], registers: [registry] });
  const records = new Counter({
    name: 'member_sync_records_total',
    help: 'Records by outcome: created, updated, unchanged, conflicts, rejected',
    labelNames: ['kind', 'source', 'outcome'],
    registers: [registry],
  });
  const pushes = new Counter({ name: 'member_sync_pushes_total', help: 'Members pushed, by connection and outcome (ok, failed, skipped)', labelNames: ['connection', 'outcome'], registers: [registry] });
  const duration = new Histogram({
    name: 'member_sync_job_duration_seconds',
    help: 'Time a job ran, by job and how it ended',
    labelNames: ['job', 'status'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400],
    registers: [registry],
  });
  new Gauge({
    name: 'member_sync_queue_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      if (!queueDepth) return;
      const counts = await queueDepth().catch(() => undefined);
      for (const [state, n] of Object.entries(counts ?? {})) this.set({ state }, n);
    },
  });

  const countRun = (kind: string, source: string, c: RunCounts) => {
    read.inc({ kind, source }, c.rows);
    for (const o of OUTCOMES) records.inc({ kind, source, outcome: o }, c[o]);
  };
  const countPush = (p: PushResult) => {
    pushes.inc({ connection: p.connection, outcome: 'ok' }, p.created + p.updated);
    pushes.inc({ connection: p.connection, outcome: 'failed' }, p.failed);
    pushes.inc({ connection: p.connection, outcome: 'skipped' }, p.skipped);
  };

  return {
    registry,
    recordResults(results) {
      for (const r of results) {
        if (r.step === 'pull') countRun('pull', r.connection, r);
        else if (r.step === 'import') countRun('import', 'file', r);
        else if (r.step === 'push') countPush(r);
        else {
          countRun('migrate', r.from, r.source);
          r.pushes.forEach(countPush);
        }
      }
    },
    observeJob(job, status, seconds) {
      duration.observe({ job, status }, seconds);
    },
  };
}
