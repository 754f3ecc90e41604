import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../metrics.js';

/** Prometheus exposition, plus the per-request counters that feed it. */
export const metricsRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics.' } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
