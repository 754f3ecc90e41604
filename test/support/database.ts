import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { Database, createPool } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';

export const silentLog = createLogger({ logLevel: 'silent', logFormat: 'json' });

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh, empty database on the run's server, for one test file. */
export async function createEmptyDatabase(): Promise<string> {
  const serverUrl = inject('pgServerUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return withDatabase(serverUrl, name);
}

/** A fresh database with every migration applied, and a Database over it. */
export async function createTestDatabase(): Promise<{ url: string; db: Database; close(): Promise<void> }> {
  const url = await createEmptyDatabase();
  await migrate(url, silentLog);
  const db = new Database(createPool(url, 5));
  return { url, db, close: () => db.close() };
}

/**
 * Runs `body` while every telemetry commit waits (a SHARE lock on the table, held on a connection of
 * `pool` and rolled back after): what a client sends after held telemetry is stored meanwhile, if it
 * goes to another table. `body` gets the holding connection, to look for those rows.
 */
export async function whileTelemetryCommitsWait<T>(pool: pg.Pool, body: (holder: pg.PoolClient) => Promise<T>): Promise<T> {
  const holder = await pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE telemetry IN SHARE MODE');
    return await body(holder);
  } finally {
    await holder.query('ROLLBACK');
    holder.release();
  }
}
