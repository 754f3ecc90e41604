import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, callerOf, contextOf } from '../caller.js';

const Me = Type.Object({
  user: Type.Object({ id: Type.String(), email: Type.String() }),
  tenant: Type.Union([Type.Object({ id: Type.String(), slug: Type.String() }), Type.Null()]),
  roles: Type.Array(Type.String()),
  channel: Type.String(),
  scopes: Type.Array(Type.String()),
  tenants: Type.Array(Type.Object({ id: Type.String(), slug: Type.String(), role: Type.String() })),
  platformAdmin: Type.Boolean(),
});

/** The caller as the gateway sees them. */
export const meRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/me', {
    schema: { tags: ['auth'], summary: 'Who am I: user, active tenant, roles, channel, scopes.', response: { 200: Me, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' } } },
  }, async (request) => {
    const { claims, ctx, platformAdmin } = callerOf(request);
    const tenant = ctx ? claims.tenants.find((m) => m.id === ctx.tenantId) : undefined;
    return {
      user: await core.auth.members.profile(claims.sub),
      tenant: tenant ? { id: tenant.id, slug: tenant.slug } : null,
      roles: [...(ctx?.roles ?? [])],
      channel: claims.channel,
      scopes: claims.scopes,
      tenants: claims.tenants,
      platformAdmin,
    };
  });

  app.post('/v1/me/password', {
    schema: {
      tags: ['auth'], summary: 'Change my password; every session of mine ends.',
      body: Type.Object({ current_password: Type.String({ minLength: 1, maxLength: 1024 }), new_password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
      response: { 204: Type.Null(), 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    await core.auth.members.changePassword(callerOf(request).claims.sub, request.body.current_password, request.body.new_password);
    return reply.status(204).send(null);
  });

  app.put('/v1/me/voice-pin', {
    schema: {
      tags: ['auth'], summary: 'Set or change my voice PIN (4 to 8 digits) in the active tenant, proven with my current password or current PIN.',
      body: Type.Object({
        pin: Type.String({ pattern: '^[0-9]{4,8}$' }),
        current_password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
        current_pin: Type.Optional(Type.String({ maxLength: 32 })),
      }, { additionalProperties: false }),
      response: { 204: Type.Null(), 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 423: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    const { pin, current_password: currentPassword, current_pin: currentPin } = request.body;
    await core.voicePins.set(contextOf(request), pin, { currentPassword, currentPin });
    return reply.status(204).send(null);
  });
};
