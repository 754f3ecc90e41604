import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/logger.js';

/**
 * The embedded PostgreSQL server on its own, as an operator's shared database
 * for several nodes: `node standalone-postgres.js <dataDir>` prints its URL.
 * A process of its own, so that the bench can weigh its CPU (its descendants).
 */
const server = await startEmbeddedPostgres(process.argv[2]!, createLogger({ logLevel: 'warn', logFormat: 'json' }, 2), { adoptOrphan: false });
process.stdout.write(`url ${server.connectionString}\n`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
setInterval(() => undefined, 1 << 30); // alive until told to stop: its pid is how the bench finds Postgres's processes
