import { readdir } from 'node:fs/promises';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../logger.js';
import { MIGRATIONS_DIR } from '../paths.js';

const MIGRATIONS_TABLE = 'pgmigrations';

/**
 * Applies every pending migration. node-pg-migrate holds a Postgres advisory
 * lock meanwhile; `advisoryLockMode: 'wait'` makes a second process that
 * starts at the same moment wait for the first and then find nothing to do.
 */
export async function migrate(connectionString: string, log: Logger): Promise<string[]> {
  const applied = await runner({
    databaseUrl: connectionString,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: MIGRATIONS_TABLE,
    count: Infinity,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    checkOrder: true,
    logger: { debug: () => undefined, info: (msg: string) => log.debug(msg), warn: (msg: string) => log.warn(msg), error: (msg: string) => log.error(msg) },
  });
  const names = applied.map((migration) => migration.name);
  if (names.length > 0) log.info({ migrations: names }, 'migrations applied');
  return names;
}

export async function expectedMigrations(): Promise<string[]> {
  const files = await readdir(MIGRATIONS_DIR);
  return files.filter((file) => file.endsWith('.sql')).map((file) => file.replace(/\.sql$/, '')).sort();
}

/** Names of the migrations in migrations/ that the database has not applied. */
export async function pendingMigrations(query: (sql: string) => Promise<{ rows: { name: string }[] }>): Promise<string[]> {
  const expected = await expectedMigrations();
  const { rows } = await query(`SELECT name FROM ${MIGRATIONS_TABLE}`).catch(() => ({ rows: [] as { name: string }[] }));
  const applied = new Set(rows.map((row) => row.name));
  return expected.filter((name) => !applied.has(name));
}
