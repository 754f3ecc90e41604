import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import type { QueryConfig } from 'pg';
import type { Database } from '../../db/database.js';
import { pendingMigrations } from '../../db/migrate.js';

const Health = Type.Object({ status: Type.Literal('ok') });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded')], { description: '`degraded`: this node serves its own clients, but cannot reach the other nodes (Redis).' }),
  checks: Type.Object({
    database: Type.Literal('ok'),
    migrations: Type.Literal('ok'),
    fleet: Type.Union([Type.Literal('single'), Type.Literal('ok'), Type.Literal('degraded')], { description: '`single`: no REDIS_URL; `ok`: Redis reachable; `degraded`: it is not.' }),
  }),
  reasons: Type.Optional(Type.Object({ fleet: Type.Optional(Type.String()) })),
});

/** What /readyz asks of the node's fleet (src/fleet). */
export type FleetReadiness = () => { mode: 'single' | 'redis'; degraded: boolean; reason?: string };
const SINGLE: FleetReadiness = () => ({ mode: 'single', degraded: false });

/** How long /readyz waits for Postgres: a stalled server must read as "not ready", not as a hang. */
const READY_TIMEOUT_MS = 1_000;

/**
 * Liveness (the process answers) and readiness (Postgres reachable and fully
 * migrated). A node that cannot reach Redis stays ready, saying it is degraded:
 * it still serves its own clients, and a 503 from every node at once would
 * have the load balancer drop the whole fleet for an outage of what it shares.
 */
export const healthRoutes: FastifyPluginAsyncTypebox<{ db: Database; fleet?: FleetReadiness }> = async (app, { db, fleet = SINGLE }) => {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up.', response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'PostgreSQL is reachable and every migration is applied; with REDIS_URL, whether this node reaches the others (200 either way).', response: { 200: Readiness, 503: { $ref: 'ErrorResponse#' } } } },
    async () => {
      await db.ping(READY_TIMEOUT_MS).catch((error: Error) => {
        throw isGatewayError(error) ? error : new GatewayError('DATABASE_UNAVAILABLE', `PostgreSQL is not reachable: ${error.message}`);
      });
      const pending = await pendingMigrations((sql) => db.pool.query({ text: sql, query_timeout: READY_TIMEOUT_MS } as QueryConfig));
      if (pending.length > 0) throw new GatewayError('DATABASE_UNAVAILABLE', `Migrations not applied: ${pending.join(', ')}.`, { pending });
      const shared = fleet();
      const checks = { database: 'ok' as const, migrations: 'ok' as const, fleet: shared.mode === 'single' ? 'single' as const : shared.degraded ? 'degraded' as const : 'ok' as const };
      if (!shared.degraded) return { status: 'ready' as const, checks };
      return { status: 'degraded' as const, checks, reasons: { fleet: `Redis is unreachable (${shared.reason ?? 'unknown'}): serving this node's clients only.` } };
    },
  );
};
