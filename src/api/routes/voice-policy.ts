import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';

const Platform = Type.Union([Type.Literal('alexa'), Type.Literal('google')]);
const Entry = Type.Object({
  platform: Platform, capability: Type.String(), risk: Type.String(),
  enabled: Type.Boolean(), requiresPin: Type.Boolean(), requiresAck: Type.Boolean(), platformVoiceCode: Type.Boolean(), source: Type.Union([Type.Literal('default'), Type.Literal('tenant')]),
});
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' } };

/** The tenant's voice policy (admins): which capabilities each voice platform may use, and which need the voice PIN. */
export const voicePolicyRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/voice/policy', {
    schema: {
      tags: ['voice'], summary: 'The voice policy per platform and capability: the tenant\'s choices, else the catalogue\'s defaults (normal on; sensitive on with PIN; critical off).',
      querystring: Type.Object({ platform: Type.Optional(Platform) }),
      response: { 200: Type.Object({ entries: Type.Array(Entry) }), ...errors },
    },
  }, async (request) => ({ entries: await core.voicePolicy.list(contextOf(request), request.query.platform) }));

  app.put('/v1/voice/policy', {
    schema: {
      tags: ['voice'], summary: 'Change capabilities of one voice platform; a critical capability cannot be enabled, a sensitive one always needs the PIN.',
      body: Type.Object({
        platform: Platform,
        capabilities: Type.Array(Type.Object({
          capability: Type.String({ minLength: 1, maxLength: 64 }), enabled: Type.Boolean(), requiresPin: Type.Boolean(),
          requiresAck: Type.Optional(Type.Boolean({ description: 'Google only: the person acknowledges before the command is sent (ackNeeded).' })),
          platformVoiceCode: Type.Optional(Type.Boolean({ description: 'Alexa only, sensitive capabilities: Alexa\'s own voice code stands in for the Gatehouse PIN (Smart Home sends Unlock without one).' })),
        }, { additionalProperties: false }), { maxItems: 100 }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ entries: Type.Array(Entry) }), ...errors },
    },
  }, async (request) => ({ entries: await core.voicePolicy.update(contextOf(request), request.body.platform, request.body.capabilities) }));
};
