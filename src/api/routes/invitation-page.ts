import formbody from '@fastify/formbody';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { Core } from '../../core/create-core.js';
import { isGatewayError } from '../../core/errors.js';
import { HTTP_STATUS } from '../http-status.js';
import { renderInvitationPage, type InvitationPageModel } from '../invitations/invitation-page.js';

function page(reply: FastifyReply, status: number, model: InvitationPageModel) {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    // The token is in the address: no Referer may carry it anywhere.
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'`)
    .send(renderInvitationPage(model));
}

const Token = Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) });

/**
 * The page an invitation link opens (POST /v1/members for someone new): the
 * invitee chooses a password, and the account and membership are created. No
 * bearer token here: the invitation token is the proof. Every decision is the
 * core's (Invitations); a token that cannot be used gets a page saying why.
 */
export const invitationPageRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  await app.register(formbody);
  const invitations = core.auth.invitations;

  /** The refusal as a page: a token that cannot be used, or the core's other failures, by their status. */
  function refused(reply: FastifyReply, error: unknown) {
    if (!isGatewayError(error)) throw error;
    if (error.code !== 'INVITATION_INVALID') throw error;
    return page(reply, HTTP_STATUS.INVITATION_INVALID, { kind: 'invalid', message: error.message });
  }

  app.get('/invitations/:token', {
    schema: { tags: ['tenants'], summary: 'The set-password page of an invitation link (HTML); 410 with the reason for a link used, revoked, expired or unknown.', params: Token },
  }, async (request, reply) => {
    const { token } = request.params;
    try {
      const open = await invitations.open(token);
      return await page(reply, 200, { kind: 'form', action: `/invitations/${encodeURIComponent(token)}`, ...open });
    } catch (error) {
      return refused(reply, error);
    }
  });

  app.post('/invitations/:token', {
    schema: {
      tags: ['tenants'], summary: 'The page\'s form: sets the password, creates the account and the membership with the invited role, and burns the link.',
      params: Token, consumes: ['application/x-www-form-urlencoded'],
      body: Type.Object({ password: Type.String({ maxLength: 1024 }), password_confirm: Type.String({ maxLength: 1024 }) }),
    },
  }, async (request, reply) => {
    const { token } = request.params;
    const { password, password_confirm: again } = request.body;
    try {
      const open = await invitations.open(token);
      const form = { kind: 'form' as const, action: `/invitations/${encodeURIComponent(token)}`, ...open };
      if (password !== again) return await page(reply, 400, { ...form, error: 'The two passwords differ.' });
      try {
        const accepted = await invitations.accept(token, password);
        return await page(reply, 200, { kind: 'done', email: accepted.email, role: accepted.role, tenantName: accepted.tenantName });
      } catch (error) {
        if (isGatewayError(error) && error.code === 'VALIDATION_FAILED') return await page(reply, 400, { ...form, error: error.message });
        throw error;
      }
    } catch (error) {
      return refused(reply, error);
    }
  });
};
