import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';

const Rule = Type.Object({
  secondPerson: Type.Boolean({ description: 'Whether someone other than the requester must approve a command that needs approval.' }),
}, { additionalProperties: false });
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' } };

/** The tenant's approval rule (the CLI's `tenant approvals`): read by members, changed by owners. */
export const approvalPolicyRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/approvals/policy', {
    schema: { tags: ['commands'], summary: 'Whether a second person must approve what a member asked for.', response: { 200: Rule, ...errors } },
  }, async (request) => ({ secondPerson: await core.approvals.secondPersonRequired(contextOf(request)) }));

  app.put('/v1/approvals/policy', {
    schema: { tags: ['commands'], summary: 'Require (or stop requiring) a second person to approve; owners only.', body: Rule, response: { 200: Rule, ...errors } },
  }, async (request) => {
    await core.approvals.requireSecondPerson(contextOf(request), request.body.secondPerson);
    return { secondPerson: request.body.secondPerson };
  });
};
