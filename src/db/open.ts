import type { Config } from '../config.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../logger.js';
import { Database, createPool } from './database.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { migrate } from './migrate.js';

export type OpenDatabase = {
  db: Database;
  connectionString: string;
  /** The embedded server's process (undefined with DATABASE_URL): whether it runs, and how often it was restarted. */
  embeddedHealth(): { running: boolean; restarts: number } | undefined;
  /** Closes the pool, then stops the embedded server if this process owns it. */
  close(): Promise<void>;
};

/**
 * DATABASE_URL, or the embedded server in DATA_DIR; migrated, reachable, pooled.
 * `adoptOrphan` is for the gateway itself (see startEmbeddedPostgres).
 */
export async function openDatabase(config: Config, log: Logger, options: { adoptOrphan: boolean; migrate: boolean }): Promise<OpenDatabase> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, log, options);
  const connectionString = config.databaseUrl ?? embedded!.connectionString;
  try {
    const pool = createPool(connectionString, config.databasePoolSize);
    const db = new Database(pool);
    await db.ping().catch((error: Error) => {
      throw new GatewayError('DATABASE_UNAVAILABLE', `Cannot reach PostgreSQL at ${describe(connectionString)}: ${error.message}`);
    });
    if (options.migrate) await migrate(connectionString, log);
    return {
      db,
      connectionString,
      embeddedHealth: () => embedded?.health(),
      async close() {
        await db.close().catch((error: Error) => log.warn({ err: error }, 'closing the pool failed'));
        await embedded?.stop();
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

function describe(connectionString: string): string {
  const url = new URL(connectionString);
  return `${url.hostname}:${url.port || 5432}${url.pathname}`;
}
