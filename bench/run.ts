import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createPool, Database } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrate } from '../src/db/migrate.js';
import { createLogger } from '../src/logger.js';
import { credentialsScenario } from './scenarios/credentials.js';

/**
 * `npm run bench [scenario…] [--json] [--quick]`: runs the named scenarios (all
 * by default) against a throwaway embedded PostgreSQL and prints the results.
 */
const SCENARIOS = ['credentials'] as const;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { json: { type: 'boolean' }, quick: { type: 'boolean' } }, allowPositionals: true });
  const chosen = positionals.length > 0 ? positionals : [...SCENARIOS];
  const unknown = chosen.filter((name) => !SCENARIOS.includes(name as never));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`);

  const log = createLogger({ logLevel: 'warn', logFormat: 'json' }, 2);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-'));
  await chmod(dataDir, 0o755);
  const server = await startEmbeddedPostgres(dataDir, log, { adoptOrphan: false });
  const results: unknown[] = [];
  try {
    await migrate(server.connectionString, log);
    const db = new Database(createPool(server.connectionString, 10));
    try {
      if (chosen.includes('credentials')) {
        const result = await credentialsScenario(db, values.quick ? { cold: 20, cached: 500, concurrency: 8 } : { cold: 200, cached: 20_000, concurrency: 8 });
        results.push(result);
        if (!values.json) {
          console.log('credentials: device credential verification (Postgres row lookup + secret check), 8 concurrent');
          console.log(`  cold (argon2id):  ${result.cold.perSecond}/s  cpu ${result.cold.cpuMsEach} ms each  p50 ${result.cold.latencyMs.p50} ms  p99 ${result.cold.latencyMs.p99} ms`);
          console.log(`  cached:           ${result.cached.perSecond}/s  cpu ${result.cached.cpuMsEach} ms each  p50 ${result.cached.latencyMs.p50} ms  p99 ${result.cached.latencyMs.p99} ms`);
          console.log(`  cached ÷ cold:    ${result.speedup}×`);
        }
      }
    } finally {
      await db.close();
    }
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  if (values.json) console.log(JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, results }));
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
