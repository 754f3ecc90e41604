import type { FastifyPluginAsync } from 'fastify';
import type { Core } from '../../core/create-core.js';

/** The public keys that verify Gatehouse access tokens (RFC 7517). */
export const jwksRoutes: FastifyPluginAsync<{ core: Core }> = async (app, { core }) => {
  app.get('/.well-known/jwks.json', { schema: { tags: ['auth'], summary: 'JSON Web Key Set of the token signing keys.' } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return core.auth.keys.jwks();
  });
};
