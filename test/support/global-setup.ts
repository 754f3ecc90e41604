import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/logger.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server for the whole run; each test file makes its own database on it. */
    pgServerUrl: string;
  }
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The sources under src/ and bench/ whose compiled file in dist/ is missing or
 * older. Integration tests spawn bin/gatehouse.js and dist/bench, which run dist/;
 * only `npm test` rebuilds it, so `npx vitest` would otherwise test stale code.
 */
export async function staleBuild(root = ROOT): Promise<string[]> {
  const stale: string[] = [];
  for (const dir of ['src', 'bench']) {
    for (const entry of await readdir(path.join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
      const source = path.relative(root, path.join(entry.parentPath, entry.name));
      const [written, compiled] = await Promise.all([
        stat(path.join(root, source)),
        stat(path.join(root, 'dist', source.replace(/\.ts$/, '.js'))).catch(() => undefined),
      ]);
      if (!compiled || compiled.mtimeMs < written.mtimeMs) stale.push(source);
    }
  }
  return stale.sort();
}

/**
 * Refuses to start when dist/ is older than src/ or bench/ (see staleBuild), then
 * one real PostgreSQL for the test run: TEST_DATABASE_URL when given (any server
 * whose user may create databases), else an embedded one in a temporary directory.
 */
export default async function setup(project: TestProject) {
  const stale = await staleBuild();
  if (stale.length > 0) {
    const named = stale.slice(0, 5).join(', ') + (stale.length > 5 ? ` and ${stale.length - 5} more` : '');
    throw new Error(`dist/ is older than its sources (${named}): run \`npm run build\` before the integration tests (npm test builds first).`);
  }
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
