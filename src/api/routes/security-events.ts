import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { MAX_SECURITY_EVENT_PAGE } from '../../core/security-event-reader.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime, queryDate } from '../schemas.js';

const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' } };
const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()]);

/** The tenant's audit log (admins, web and mobile). */
export const securityEventRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/security-events', {
    schema: {
      tags: ['security'], summary: 'The tenant\'s security events (logins, PIN failures and lockouts, approvals, credential changes), newest first, in pages (follow `next`).',
      querystring: Type.Object({
        from: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601, inclusive.' })),
        to: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601, exclusive.' })),
        type: Type.Optional(Type.String({ maxLength: 64, description: 'Only this type, e.g. PIN_LOCKOUT.' })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SECURITY_EVENT_PAGE, default: 100 })),
        cursor: Type.Optional(Type.String({ maxLength: 200 })),
      }),
      response: {
        200: Type.Object({
          items: Type.Array(Type.Object({
            id: Type.String(), type: Type.String(), channel: Nullable(Type.String()), principal: Type.Unknown(),
            userId: Nullable(Type.String()), deviceId: Nullable(Type.String()), sourceIp: Nullable(Type.String()),
            details: Type.Unknown(), createdAt: DateTime,
          })),
          next: Type.Union([Type.String(), Type.Null()]),
        }),
        ...errors,
      },
    },
  }, async (request) => {
    const { from, to, type, limit, cursor } = request.query;
    return core.securityEvents.list(contextOf(request), { from: queryDate(from, 'from'), to: queryDate(to, 'to'), type, limit, cursor });
  });
};
