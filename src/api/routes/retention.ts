import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';
import { Confirm } from '../confirmation.js';

const Retention = Type.Object({
  telemetryRetentionDays: Type.Integer({ description: 'Days this tenant keeps telemetry and device events; older ones go at the next maintenance run.' }),
  maxDays: Type.Integer({ description: 'The platform\'s ceiling (TELEMETRY_RETENTION_MAX_DAYS).' }),
});
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' } };

/** How long the tenant keeps its data: read by those who read telemetry, changed by those who may purge it. */
export const retentionRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/retention', {
    schema: { tags: ['devices'], summary: 'How long this tenant keeps telemetry and device events.', response: { 200: Retention, ...errors } },
  }, async (request) => core.retention.get(contextOf(request)));

  app.put('/v1/retention', {
    schema: {
      tags: ['devices'], summary: 'Change how long telemetry and device events are kept (data.purge: shortening it deletes data at the next maintenance run). From mobile: `confirm: true`.',
      body: Type.Object({ telemetryRetentionDays: Type.Integer({ minimum: 1 }), confirm: Confirm }, { additionalProperties: false }),
      response: { 200: Retention, ...errors },
    },
  }, async (request) => core.retention.set(contextOf(request), request.body.telemetryRetentionDays, { confirm: request.body.confirm }));
};
