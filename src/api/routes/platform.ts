import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { assertPlatformAdmin } from '../../auth/platform-admin.js';
import type { Core } from '../../core/create-core.js';
import { createTenant, listTenants } from '../../core/tenants.js';
import { authenticateWith, callerOf } from '../caller.js';

const TenantSchema = Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String(), status: Type.String() });
const errors = { 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' } };

/** Platform administration: tenants and users across tenants. Sees no tenant data. */
export const platformRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));
  app.addHook('preHandler', async (request) => assertPlatformAdmin(callerOf(request)));

  app.get('/v1/tenants', { schema: { tags: ['platform'], summary: 'All tenants.', response: { 200: Type.Array(TenantSchema), ...errors } } }, async () =>
    listTenants(core.db),
  );

  app.post('/v1/tenants', {
    schema: {
      tags: ['platform'], summary: 'Create a tenant.',
      body: Type.Object({ slug: Type.String({ maxLength: 63 }), name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
      response: { 201: TenantSchema, 409: { $ref: 'ErrorResponse#' }, ...errors },
    },
  }, async (request, reply) => reply.status(201).send(await createTenant(core.db, request.body)));

  app.post('/v1/users/:userId/suspension', {
    schema: {
      tags: ['platform'], summary: 'Suspend or reinstate a user; suspension ends every session at once.',
      params: Type.Object({ userId: Type.String({ format: 'uuid' }) }),
      body: Type.Object({ suspended: Type.Boolean() }, { additionalProperties: false }),
      response: { 204: Type.Null(), 404: { $ref: 'ErrorResponse#' }, ...errors },
    },
  }, async (request, reply) => {
    await core.auth.members.setSuspended(request.params.userId, request.body.suspended);
    return reply.status(204).send(null);
  });
};
