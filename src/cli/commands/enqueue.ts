import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config.js';
import { checkConnections } from '../../connectors/registry.js';
import { ConfigError } from '../../errors.js';
import { log } from '../../log.js';
import { resultLines } from '../../queue/step-results.js';
import { print, printJson } from '../context.js';
import { jobFromArgs } from './run.js';

interface EnqueueFlags {
  steps?: string;
  wait?: boolean;
  json?: boolean;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

export function registerEnqueue(program: Command): void {
  program
    .command('enqueue')
    .description('queue a one-off run of a job (a migration, say) for the worker; --wait follows it to the end')
    .argument('[job]', 'a job definition: jobs/<job>.yaml (worker.jobsDir)')
    .option('--steps <yaml>', "ad-hoc steps instead of a job, as a YAML list: '[{migrate: convio-main, to: vocdoni-main}]'")
    .option('--wait', 'follow the job: progress on stderr, then its summary; exit 1 if it fails')
    .option('--json', 'print {job_id, name, state[, results | error]} as JSON')
    .addHelpText(
      'after',
      `
The job goes to the same queue as the worker's (REDIS_URL, or the PostgreSQL backend in
member-sync's database); a running \`member-sync worker\` takes it. Without --wait the
command returns at once with the job id.

Examples:
  member-sync enqueue convio-to-vocdoni --wait
  member-sync enqueue --steps '[{pull: convio-main}]' --json`,
    )
    .action(async (name: string | undefined, flags: EnqueueFlags) => {
      const config = loadConfig();
      const problems = checkConnections(config.connections);
      if (problems.length > 0) throw new ConfigError(`config: ${problems.join('; ')}`);
      const def = jobFromArgs(name, flags.steps, config);
      // BullMQ and ioredis are loaded only by the commands that use the queue
      const [{ enqueueSteps, followJob }, { openStack }, { jobOptions }] = await Promise.all([
        import('../../queue/enqueue.js'),
        import('../../queue/open-stack.js'),
        import('../../queue/queue-backend.js'),
      ]);
      const stack = await openStack({ config, log, needDatabase: false });
      const queue = stack.backend.createQueue(jobOptions(config));
      try {
        const job = await enqueueSteps(queue, def, 'enqueue', jobOptions(config));
        const id = String(job.id);
        if (!flags.wait) {
          if (flags.json) printJson({ job_id: id, name: def.name, state: 'queued' });
          else print(`queued job ${id} (${def.name})`);
          return;
        }
        if (!flags.json) say(`queued job ${id} (${def.name}); waiting for it`);
        const end = await followJob(queue, id, {
          onProgress: (p) => {
            const { unit, units, label } = p as { unit?: number; units?: number; label?: string };
            if (!flags.json && label) say(`  step ${unit}/${units}: ${label}`);
          },
          onRetry: (reason, attempt) => say(`  attempt ${attempt} failed: ${reason}; it will be retried`),
          onNobody: () => say('  still waiting: is a `member-sync worker` running on this queue?'),
        });
        if (end.state === 'completed') {
          const results = end.outcome?.results ?? [];
          if (flags.json) printJson({ job_id: id, name: def.name, state: 'completed', results });
          else for (const r of results) resultLines(r).forEach((l) => print(l));
          if (results.some((r) => r.step === 'import' && r.error)) process.exitCode = 1;
        } else {
          if (flags.json) printJson({ job_id: id, name: def.name, state: 'failed', error: end.failedReason });
          else say(`member-sync: job ${id} (${def.name}) failed: ${end.failedReason}`);
          process.exitCode = 1;
        }
      } finally {
        await queue.close().catch(() => undefined);
        await stack.close();
      }
    });
}
