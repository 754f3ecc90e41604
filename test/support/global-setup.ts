import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server for the whole run; each test file makes its own database on it. */
    pgServerUrl: string;
  }
}

/**
 * One real PostgreSQL for the test run: TEST_DATABASE_URL when given (any server
 * whose user may create databases), else an embedded one in a temporary directory.
 */
export default async function setup(project: TestProject) {
  const given = process.env.TEST_DATABASE_URL;
  if (given) {
    project.provide('pgServerUrl', given);
    return;
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-test-pg-'));
  // mkdtemp makes it 0700; as root, the postgres OS user must be able to enter it.
  await chmod(dataDir, 0o755);
  const server = await startEmbeddedPostgres(dataDir, createLogger({ logLevel: 'warn', logFormat: 'json' }, 2), { adoptOrphan: false });
  project.provide('pgServerUrl', server.connectionString);
  return async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
