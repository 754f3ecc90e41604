import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import type { QueryConfig } from 'pg';
import type { Database } from '../../db/database.js';
import { pendingMigrations } from '../../db/migrate.js';

const Health = Type.Object({ status: Type.Literal('ok') });
const Readiness = Type.Object({ status: Type.Literal('ready'), checks: Type.Object({ database: Type.Literal('ok'), migrations: Type.Literal('ok') }) });

/** How long /readyz waits for Postgres: a stalled server must read as "not ready", not as a hang. */
const READY_TIMEOUT_MS = 1_000;

/** Liveness (the process answers) and readiness (Postgres reachable and fully migrated). */
export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Database }> = async (app, { db }) => {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up.', response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'PostgreSQL is reachable and every migration is applied.', response: { 200: Readiness, 503: { $ref: 'ErrorResponse#' } } } },
    async () => {
      await db.ping(READY_TIMEOUT_MS).catch((error: Error) => {
        throw isGatewayError(error) ? error : new GatewayError('DATABASE_UNAVAILABLE', `PostgreSQL is not reachable: ${error.message}`);
      });
      const pending = await pendingMigrations((sql) => db.pool.query({ text: sql, query_timeout: READY_TIMEOUT_MS } as QueryConfig));
      if (pending.length > 0) throw new GatewayError('DATABASE_UNAVAILABLE', `Migrations not applied: ${pending.join(', ')}.`, { pending });
      return { status: 'ready' as const, checks: { database: 'ok' as const, migrations: 'ok' as const } };
    },
  );
};
