import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { chooseTenant } from '../../auth/sessions.js';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, callerOf } from '../caller.js';

const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 429: { $ref: 'ErrorResponse#' } };

/** First-party sessions: login, refresh (rotating), logout. */
export const sessionRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  const { auth } = core;
  app.post('/v1/auth/login', {
    schema: {
      tags: ['auth'], summary: 'Sign in with email and password.',
      body: Type.Object({
        email: Type.String({ minLength: 3, maxLength: 320 }),
        password: Type.String({ minLength: 1, maxLength: 1024 }),
        tenant: Type.Optional(Type.String({ maxLength: 64, description: 'Slug or id of the tenant to act in; default: the first membership.' })),
        channel: Type.Optional(Type.Union([Type.Literal('web'), Type.Literal('mobile')], { default: 'web' })),
      }, { additionalProperties: false }),
      response: { 200: { $ref: 'TokenPair#' }, ...errors },
    },
  }, async (request) => {
    const { email, password, tenant, channel = 'web' } = request.body;
    const user = await auth.logins.verify(email, password, { ip: request.ip, channel });
    const { familyId: _familyId, ...pair } = await auth.sessions.start({ user, tenantId: chooseTenant(user, tenant), channel });
    return pair;
  });

  app.post('/v1/auth/refresh', {
    schema: {
      tags: ['auth'], summary: 'Trade a refresh token for a new pair; the old one dies, and presenting it again revokes the session.',
      body: Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false }),
      response: { 200: { $ref: 'TokenPair#' }, ...errors },
    },
  }, async (request) => {
    const { familyId: _familyId, ...pair } = await auth.sessions.refresh(request.body.refresh_token);
    return pair;
  });

  app.post('/v1/auth/logout', {
    preHandler: authenticateWith(auth.requests),
    schema: { tags: ['auth'], summary: 'End this session (its refresh token and access tokens).', response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await auth.sessions.end(callerOf(request).claims);
    return reply.status(204).send(null);
  });
};
