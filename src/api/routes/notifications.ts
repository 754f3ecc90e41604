import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { CATEGORIES } from '../../core/notifications/notification-settings.js';
import { NotificationRules } from '../../core/notifications/notification-rules.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime } from '../schemas.js';

const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' } };
const Category = Type.Union(CATEGORIES.map((category) => Type.Literal(category)));
const Preferences = Type.Object({
  muted: Type.Array(Category, { maxItems: CATEGORIES.length, description: 'Categories the caller hears nothing of.' }),
  // Null first: with coerceTypes, ajv would turn a null into "" for a string tried before it.
  quietHours: Type.Union([Type.Null(), Type.Object({ start: Type.String({ description: 'HH:MM, local.' }), end: Type.String({ description: 'HH:MM, local.' }) }, { additionalProperties: false })], {
    description: 'Held back meanwhile, then sent; alarms and approvals are never held back.',
  }),
  timezone: Type.Union([Type.Null(), Type.String({ maxLength: 64 })], { description: 'IANA; null: the time zone the app registered with its token.' }),
}, { additionalProperties: false });

/** Who hears what (tenant rules, admins), each person's preferences, and each person's notification history. */
export const notificationRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/push/rules', {
    schema: { tags: ['push'], summary: 'The tenant\'s notification rules (the defaults until an admin changes them).', response: { 200: NotificationRules, ...errors } },
  }, async (request) => core.notifications.rules(contextOf(request)));

  app.put('/v1/push/rules', {
    schema: { tags: ['push'], summary: 'Replace the tenant\'s notification rules (admins).', body: NotificationRules, response: { 200: NotificationRules, ...errors } },
  }, async (request) => core.notifications.setRules(contextOf(request), request.body));

  app.get('/v1/push/credentials', {
    schema: {
      tags: ['push'], summary: 'The provider credentials the tenant\'s notifications go out with (its own, else the platform\'s), by fingerprint only (admins).',
      response: {
        200: Type.Array(Type.Object({
          provider: Type.String(), source: Type.Union([Type.Literal('tenant'), Type.Literal('platform')]), fingerprint: Type.String(),
          settings: Type.Record(Type.String(), Type.String(), { description: 'What is not secret: key id, team id and topic; project and client email.' }), createdAt: DateTime,
        })),
        ...errors,
      },
    },
  }, async (request) => core.pushCredentials.inUse(contextOf(request)));

  app.get('/v1/push/dead-letters', {
    schema: {
      tags: ['push'], summary: 'Deliveries that failed for good (the provider refused them, or they ran out of attempts), newest first (admins).',
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }),
      response: {
        200: Type.Array(Type.Object({
          id: Type.String(), notificationId: Type.String(), type: Type.String(), userId: Type.String(), platform: Type.String(),
          attempts: Type.Integer(), lastReason: Type.Union([Type.String(), Type.Null()]), createdAt: DateTime,
        })),
        ...errors,
      },
    },
  }, async (request) => core.deadLetters.list(contextOf(request), request.query.limit));

  app.post('/v1/push/dead-letters/:id/retry', {
    schema: { tags: ['push'], summary: 'Send a dead letter again, with a fresh count of attempts (admins).', params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null(), 404: { $ref: 'ErrorResponse#' }, ...errors } },
  }, async (request, reply) => {
    await core.deadLetters.retry(contextOf(request), request.params.id);
    return reply.status(204).send(null);
  });

  app.get('/v1/me/notification-preferences', {
    schema: { tags: ['push'], summary: 'The caller\'s muted categories and quiet hours in the active tenant.', response: { 200: Preferences, ...errors } },
  }, async (request) => core.notifications.preferences(contextOf(request)));

  app.put('/v1/me/notification-preferences', {
    schema: { tags: ['push'], summary: 'Set the caller\'s muted categories and quiet hours in the active tenant.', body: Preferences, response: { 200: Preferences, ...errors } },
  }, async (request) => core.notifications.setPreferences(contextOf(request), request.body));

  app.get('/v1/notifications', {
    schema: {
      tags: ['push'], summary: 'What the caller was told in the active tenant, newest first, in pages (follow `next`).',
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })), cursor: Type.Optional(Type.String({ maxLength: 200 })) }),
      response: {
        200: Type.Object({
          items: Type.Array(Type.Object({
            id: Type.String(), type: Type.String(), category: Type.String(), critical: Type.Boolean(),
            data: Type.Record(Type.String(), Type.String()), createdAt: DateTime, readAt: Type.Union([DateTime, Type.Null()]),
          })),
          next: Type.Union([Type.String(), Type.Null()]),
        }),
        ...errors,
      },
    },
  }, async (request) => core.notifications.history(contextOf(request), request.query));
};
