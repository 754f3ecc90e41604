import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';

/** Tenant membership administration. */
export const memberRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.delete('/v1/members/:userId', {
    schema: {
      tags: ['tenants'], summary: 'Remove a member from the active tenant; their sessions there end at once.',
      params: Type.Object({ userId: Type.String({ format: 'uuid' }) }),
      response: { 204: Type.Null(), 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    await core.auth.members.remove(contextOf(request), request.params.userId);
    return reply.status(204).send(null);
  });

  app.delete('/v1/members/:userId/voice-pin', {
    schema: {
      tags: ['tenants'], summary: 'Reset a member\'s voice PIN (admins): it is removed, and they set a new one with their password.',
      params: Type.Object({ userId: Type.String({ format: 'uuid' }) }),
      response: { 204: Type.Null(), 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    await core.voicePins.reset(contextOf(request), request.params.userId);
    return reply.status(204).send(null);
  });
};
