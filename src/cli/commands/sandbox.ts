import type { Command } from 'commander';

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got '${v}'`);
    return n;
  };
}

export function registerSandbox(program: Command): void {
  program
    .command('sandbox')
    .description('run all five simulators on loopback, seeded with overlapping people, until Ctrl-C')
    .option('--people <n>', 'how many generated people to spread over the systems', positiveInt('--people'), 200)
    .option('--seed <n>', 'seed of the generated people', positiveInt('--seed'), 1)
    .option('--port <n>', 'first port (the simulators take port..port+4); default: free ports', positiveInt('--port'), 0)
    .addHelpText(
      'after',
      `
The same person appears in several systems: in Convio and the community platform with
another email case, in Vocdoni with memberNumber = the Convio member_id, and so on.
It prints the credentials to export and a connections config to save; then in
another terminal: member-sync pull convio-sandbox, member-sync pull vocdoni-sandbox, ...

Example:
  member-sync sandbox --people 1000 --port 7100`,
    )
    .action(async (flags: { people: number; seed: number; port: number }) => {
      const { sandboxInstructions, startSandbox } = await import('../../server/sandbox.js');
      const sb = await startSandbox({ people: flags.people, seed: flags.seed, port: flags.port || undefined });
      process.stdout.write(sandboxInstructions(sb) + '\n');
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await sb.close();
    });
}
