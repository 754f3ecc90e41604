import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';
import { Confirm } from '../confirmation.js';
import { DateTime } from '../schemas.js';
import { Invitation, invitationLink, Role } from './invitations.js';

const Member = Type.Object({ id: Type.String(), email: Type.String(), role: Role, status: Type.String({ description: 'The user\'s: active or suspended.' }), since: DateTime });
const UserId = Type.Object({ userId: Type.String({ format: 'uuid' }) });
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } };

/**
 * Tenant membership administration: permission tenant.members.manage (admins
 * and owners). No one grants a role above their own (ROLE_ABOVE_OWN), and the
 * last owner stays (LAST_OWNER).
 */
export const memberRoutes: FastifyPluginAsyncTypebox<{ core: Core; publicUrl: () => string }> = async (app, { core, publicUrl }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/members', {
    schema: { tags: ['tenants'], summary: 'The members of the active tenant: id, email, role, status, since. Admins.', response: { 200: Type.Object({ members: Type.Array(Member) }), ...errors } },
  }, async (request) => ({ members: await core.auth.members.list(contextOf(request)) }));

  app.post('/v1/members', {
    schema: {
      tags: ['tenants'],
      summary: 'Add a member. An existing user gains the membership at once (`outcome: "added"`); someone new is invited (`outcome: "invited"`): '
        + 'the answer carries a one-time link to a set-password page (Gatehouse sends no e-mail), valid INVITATION_TTL_HOURS; inviting the same address again replaces it. '
        + 'Admins; not above one\'s own role (403 ROLE_ABOVE_OWN); 409 CONFLICT for a member already.',
      body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 320 }), role: Role, confirm: Confirm }, { additionalProperties: false }),
      response: {
        201: Type.Object({
          outcome: Type.Union([Type.Literal('added'), Type.Literal('invited')]),
          member: Type.Optional(Member),
          invitation: Type.Optional(Invitation),
          link: Type.Optional(Type.String({ description: 'The set-password page, shown only this once: hand it to the invitee.' })),
        }),
        ...errors, 409: { $ref: 'ErrorResponse#' },
      },
    },
  }, async (request, reply) => {
    const { email, role, confirm } = request.body;
    const result = await core.auth.invitations.invite(contextOf(request), { email, role, confirmed: confirm });
    if (result.outcome === 'added') return reply.status(201).send({ outcome: 'added', member: result.member });
    return reply.status(201).send({ outcome: 'invited', invitation: result.invitation, link: invitationLink(publicUrl(), result.token) });
  });

  app.put('/v1/members/:userId', {
    schema: {
      tags: ['tenants'],
      summary: 'Change a member\'s role. It bites on their next request (within AUTH_SESSION_CACHE_MS) and drops their MQTT connections, which reconnect with the new role. '
        + 'Admins; not above one\'s own role, nor for a member above it (403 ROLE_ABOVE_OWN); the last owner cannot be demoted (409 LAST_OWNER).',
      params: UserId,
      body: Type.Object({ role: Role, confirm: Confirm }, { additionalProperties: false }),
      response: { 200: Member, ...errors, 409: { $ref: 'ErrorResponse#' } },
    },
  }, async (request) => core.auth.members.changeRole(contextOf(request), request.params.userId, request.body.role, { confirmed: request.body.confirm }));

  app.delete('/v1/members/:userId', {
    schema: {
      tags: ['tenants'],
      summary: 'Remove a member from the active tenant; their sessions there end and their MQTT connections drop at once. '
        + 'Admins; not a member above one\'s own role (403 ROLE_ABOVE_OWN), not the last owner (409 LAST_OWNER); `?confirm=true` from the mobile channel.',
      params: UserId,
      querystring: Type.Object({ confirm: Confirm }),
      response: { 204: Type.Null(), ...errors, 409: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    await core.auth.members.remove(contextOf(request), request.params.userId, { confirmed: request.query.confirm });
    return reply.status(204).send(null);
  });

  app.delete('/v1/members/:userId/voice-pin', {
    schema: {
      tags: ['tenants'], summary: 'Reset a member\'s voice PIN (admins): it is removed, and they set a new one with their password.',
      params: UserId,
      response: { 204: Type.Null(), 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    await core.voicePins.reset(contextOf(request), request.params.userId);
    return reply.status(204).send(null);
  });
};
