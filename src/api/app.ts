import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { installErrorHandling } from './error-handler.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { ErrorResponse } from './schemas.js';

export type ApiDependencies = {
  db: Database;
  log: Logger;
  metrics: Metrics;
  publicUrl: string;
};

/** The HTTP adapter: translates requests into calls on the core and core errors into HTTP. */
function createFastify(log: Logger) {
  return Fastify({
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request logs would put synchronous work on every request; /metrics counts them instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
}

export type HttpApp = ReturnType<typeof createFastify>;

export async function buildApi(deps: ApiDependencies): Promise<HttpApp> {
  const app = createFastify(deps.log);
  installErrorHandling(app);
  app.addSchema(ErrorResponse);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: request.method, route, status_code: reply.statusCode });
    deps.metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Gatehouse', version: '0.1.0', description: 'Multi-tenant IoT and voice gateway. Errors: `{ "error": { "code", "message" } }`, codes in docs/errors.md.' },
      servers: [{ url: deps.publicUrl }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes, { db: deps.db });
  await app.register(metricsRoutes, { metrics: deps.metrics });
  return app;
}
