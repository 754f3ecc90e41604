import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';
import { Confirm } from '../confirmation.js';
import { DateTime } from '../schemas.js';

/** A member's role (src/auth/context.ts ROLES), weakest first. */
export const Role = Type.Union([Type.Literal('viewer'), Type.Literal('member'), Type.Literal('admin'), Type.Literal('owner')]);

export const Invitation = Type.Object({
  id: Type.String(), email: Type.String(), role: Role,
  status: Type.Union([Type.Literal('pending'), Type.Literal('expired')]),
  invitedBy: Type.Object({ kind: Type.String(), id: Type.String() }),
  createdAt: DateTime, expiresAt: DateTime,
});

/** The set-password page a token opens (invitation-page.ts), under the gateway's public address. */
export function invitationLink(publicUrl: string, token: string): string {
  return `${publicUrl}/invitations/${token}`;
}

const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } };

/** Open invitations of the active tenant (permission tenant.members.manage): list and withdraw. */
export const invitationRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/invitations', {
    schema: {
      tags: ['tenants'], summary: 'Open invitations (neither accepted nor revoked), newest first; an expired one stays listed as expired until revoked. Admins. Links are never shown again.',
      response: { 200: Type.Object({ invitations: Type.Array(Invitation) }), ...errors },
    },
  }, async (request) => ({ invitations: await core.auth.invitations.list(contextOf(request)) }));

  app.delete('/v1/invitations/:id', {
    schema: {
      tags: ['tenants'], summary: 'Withdraw an open invitation: its link is refused from now on. Admins (not for a role above their own); `?confirm=true` from the mobile channel.',
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      querystring: Type.Object({ confirm: Confirm }),
      response: { 204: Type.Null(), ...errors },
    },
  }, async (request, reply) => {
    await core.auth.invitations.revoke(contextOf(request), request.params.id, { confirmed: request.query.confirm });
    return reply.status(204).send(null);
  });
};
