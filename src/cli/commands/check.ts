import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load-config.js';
import { checkConnections as configProblems } from '../../connectors/registry.js';
import { ConfigError, describeError } from '../../errors.js';
import { log } from '../../log.js';
import { checkConnections, checkLine } from '../../pipeline/check.js';
import { needsFromJobs } from '../../queue/check-needs.js';
import { loadJobDefinitions } from '../../queue/load-jobs.js';
import { print, printJson } from '../context.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check each connection: it answers, its credentials are accepted, and they carry the rights the job steps need')
    .argument('[connection...]', 'connection names from the config (default: every one)')
    .option('--json', 'print one JSON line a connection')
    .addHelpText(
      'after',
      `
For each connection, one line: ok or FAIL, what it is used for (pull, push: read from
the job files in worker.jobsDir; a connection no job names is checked for everything its
kind can do), and what was verified or why it failed. Nothing is changed at any system:
the checks are reads, or calls made to find nobody (a probe address, the empty user).

A failure tagged [auth], [dns], [tls] or [format] is the connection's (credentials or
their rights, a host that does not resolve, a certificate, a baseUrl that is not the
system's API): a pull or push would stop at once with it. Exit code 1 if any fails.
The worker runs the same checks at start and logs the result.

JSON: {"connection","kind","ok","needs","detail","failure"?,"ms"}

Examples:
  member-sync check
  member-sync check convio-main vocdoni-main --json`,
    )
    .action(async (names: string[], flags: { json?: boolean }) => {
      const config = loadConfig();
      const problems = configProblems(config.connections);
      if (problems.length > 0) throw new ConfigError(`config: ${problems.join('; ')}`);
      let defs;
      try {
        defs = loadJobDefinitions(path.resolve(config.worker.jobsDir));
      } catch (err) {
        // a bad job file does not stop the check: its steps are just not known
        process.stderr.write(`member-sync: job files not read (${describeError(err)}); checking each connection for all it can do\n`);
      }
      const needs = defs ? needsFromJobs(defs, config) : undefined;
      const results = await checkConnections({ config, log, names, needs });
      if (results.length === 0) print('no connections configured (see config/default.yaml)');
      for (const r of results) {
        if (flags.json) printJson(r);
        else print(checkLine(r));
      }
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });
}
