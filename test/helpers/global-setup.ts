/**
 * One PostgreSQL server for the whole test run: TEST_DATABASE_URL when set, otherwise an
 * embedded server in a temporary directory of this run's own, removed at the end: a
 * cluster shared by two runs at once (two terminals, two checkouts) would be stopped under
 * the later one by whichever finished first. Each test file makes its own database on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { log } from '../../src/log.js';
import { startEmbedded, type EmbeddedServer } from '../../src/store/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

let server: EmbeddedServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let url = process.env.TEST_DATABASE_URL;
  let dir: string | undefined;
  if (!url) {
    dir = mkdtempSync(path.join(os.tmpdir(), 'member-sync-test-pg-'));
    server = await startEmbedded(log, dir);
    url = server.url;
  }
  project.provide('databaseUrl', url);
  return async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
