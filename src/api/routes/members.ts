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
};
