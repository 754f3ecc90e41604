import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime } from '../schemas.js';

const PushToken = Type.Object({
  id: Type.String(), platform: Type.String(), environment: Type.String(), token: Type.String(), appId: Type.String(),
  locale: Type.Union([Type.String(), Type.Null()]), timezone: Type.Union([Type.String(), Type.Null()]),
  registeredAt: DateTime, active: Type.Boolean({ description: 'False once the provider said the token is dead (it is registered again to revive it).' }),
});
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } };

/** A person's push tokens, from the web or mobile channel; user and tenant come from the access token. */
export const pushTokenRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.post('/v1/push/tokens', {
    schema: {
      tags: ['push'], summary: 'Register (or refresh) this app install\'s APNs or FCM token for the caller; a token registered to someone else moves to the caller.',
      body: Type.Object({
        platform: Type.Union([Type.Literal('ios'), Type.Literal('android')]),
        token: Type.String({ minLength: 8, maxLength: 4096 }),
        appId: Type.String({ minLength: 1, maxLength: 255, description: 'The bundle id (iOS) or package name (Android).' }),
        environment: Type.Union([Type.Literal('sandbox'), Type.Literal('production')], { default: 'production' }),
        locale: Type.Optional(Type.String({ maxLength: 35, description: 'BCP 47, e.g. "de-AT": the language of the notifications.' })),
        timezone: Type.Optional(Type.String({ maxLength: 64, description: 'IANA, e.g. "Europe/Vienna": for quiet hours.' })),
      }, { additionalProperties: false }),
      response: { 201: Type.Intersect([PushToken, Type.Object({ moved: Type.Boolean() })]), ...errors },
    },
  }, async (request, reply) => reply.status(201).send(await core.pushTokens.register(contextOf(request), request.body)));

  app.get('/v1/push/tokens', {
    schema: { tags: ['push'], summary: 'The caller\'s own push tokens in the active tenant.', response: { 200: Type.Array(PushToken), ...errors } },
  }, async (request) => core.pushTokens.list(contextOf(request)));

  app.delete('/v1/push/tokens/:token', {
    schema: { tags: ['push'], summary: 'Unregister one of the caller\'s tokens.', params: Type.Object({ token: Type.String({ minLength: 8, maxLength: 4096 }) }), response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await core.pushTokens.remove(contextOf(request), request.params.token);
    return reply.status(204).send(null);
  });
};
