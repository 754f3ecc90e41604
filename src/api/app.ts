import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Core } from '../core/create-core.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { clientErrorHandler } from './client-errors.js';
import { installInputChecks } from './edge-input.js';
import { frameworkErrors, installErrorHandling } from './error-handler.js';
import { appRoutes } from './routes/apps.js';
import { automationRoutes } from './routes/automations.js';
import { sceneRoutes } from './routes/scenes.js';
import { commandRoutes } from './routes/commands.js';
import { deviceRoutes } from './routes/devices.js';
import { healthRoutes, type FleetReadiness } from './routes/health.js';
import { invitationPageRoutes } from './routes/invitation-page.js';
import { invitationRoutes } from './routes/invitations.js';
import { jwksRoutes } from './routes/jwks.js';
import { memberRoutes } from './routes/members.js';
import { meRoutes } from './routes/me.js';
import { metricsRoutes } from './routes/metrics.js';
import { oauthRoutes } from './routes/oauth.js';
import { platformRoutes } from './routes/platform.js';
import { sessionRoutes } from './routes/sessions.js';
import { approvalPolicyRoutes } from './routes/approval-policy.js';
import { retentionRoutes } from './routes/retention.js';
import { notificationRoutes } from './routes/notifications.js';
import { pushTokenRoutes } from './routes/push-tokens.js';
import { securityEventRoutes } from './routes/security-events.js';
import { voicePolicyRoutes } from './routes/voice-policy.js';
import { ErrorResponse, TokenPair } from './schemas.js';

export type ApiDependencies = {
  core: Core;
  log: Logger;
  metrics: Metrics;
  /** The gateway's public address, asked when the OpenAPI document is built (after the listener is bound). */
  publicUrl: () => string;
  /**
   * Other adapters' HTTP routes (the voice webhooks), handed over by the
   * composition root: src/api imports no adapter, and they import nothing of
   * src/api. They run behind the same error handling, limits and metrics.
   */
  adapterRoutes?: readonly ((app: FastifyInstance) => Promise<void>)[];
  /** Whether this node reaches the others (the composition root's Fleet), for /readyz; a single node without. */
  fleet?: FleetReadiness;
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
    // Failures before any route runs answer in the error format too.
    clientErrorHandler,
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();
}

export type HttpApp = ReturnType<typeof createFastify>;

export async function buildApi(deps: ApiDependencies): Promise<HttpApp> {
  const app = createFastify(deps.log);
  installErrorHandling(app);
  installInputChecks(app);
  app.addSchema(ErrorResponse);
  app.addSchema(TokenPair);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: request.method, route, status_code: reply.statusCode });
    deps.metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Gatehouse', version: '0.1.0', description: 'Multi-tenant IoT and voice gateway. Errors: `{ "error": { "code", "message" } }`, codes in docs/errors.md.' },
    },
    // The document is built at its first request, when the public address is known (PublicUrl).
    transformObject: (document) => ('openapiObject' in document ? { ...document.openapiObject, servers: [{ url: deps.publicUrl() }] } : document.swaggerObject),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.decorateRequest('caller', null);
  const { core } = deps;
  await app.register(healthRoutes, { db: core.db, fleet: deps.fleet });
  await app.register(metricsRoutes, { metrics: deps.metrics });
  await app.register(jwksRoutes, { core });
  await app.register(sessionRoutes, { core });
  await app.register(meRoutes, { core });
  await app.register(memberRoutes, { core, publicUrl: deps.publicUrl });
  await app.register(invitationRoutes, { core });
  await app.register(invitationPageRoutes, { core });
  await app.register(appRoutes, { core });
  await app.register(platformRoutes, { core });
  await app.register(oauthRoutes, { core });
  await app.register(deviceRoutes, { core });
  await app.register(commandRoutes, { core });
  await app.register(voicePolicyRoutes, { core });
  await app.register(securityEventRoutes, { core });
  await app.register(approvalPolicyRoutes, { core });
  await app.register(retentionRoutes, { core });
  await app.register(pushTokenRoutes, { core });
  await app.register(notificationRoutes, { core });
  await app.register(sceneRoutes, { core });
  await app.register(automationRoutes, { core });
  for (const routes of deps.adapterRoutes ?? []) await app.register(routes);
  return app;
}
