/**
 * One PostgreSQL server for the whole test run: TEST_DATABASE_URL when set, otherwise an
 * embedded server in a temporary directory. Each test file makes its own database on it.
 */
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
  if (!url) {
    const dir = path.join(os.tmpdir(), `member-sync-test-pg-${os.userInfo().uid}`);
    server = await startEmbedded(log, dir);
    url = server.url;
  }
  project.provide('databaseUrl', url);
  return async () => {
    await server?.stop();
  };
}
