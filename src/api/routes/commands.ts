import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MAX_TTL_SECONDS } from '../../core/commands/command-service.js';
import type { Core } from '../../core/create-core.js';
import { GatewayError } from '../../core/errors.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime, DeviceName, NullableDateTime } from '../schemas.js';

const Command = Type.Object({
  id: Type.String(), device: Type.String(), name: Type.String(), params: Type.Record(Type.String(), Type.Unknown()),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('expired')]),
  result: Type.Unknown(),
  createdAt: DateTime, expiresAt: DateTime,
  deliveredAt: NullableDateTime, completedAt: NullableDateTime,
});
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' }, 423: { $ref: 'ErrorResponse#' } };
const MAX_WAIT_MS = 30_000;

/** `5s`, `1500ms`, `2` (seconds). */
export function parseWait(value: string | undefined): number {
  if (value === undefined) return 0;
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
  if (!match) throw new GatewayError('VALIDATION_FAILED', 'wait must look like 5s, 1500ms or 2.');
  const ms = match[2] === 'ms' ? Number(match[1]) : Number(match[1]) * 1000;
  return Math.min(ms, MAX_WAIT_MS);
}

/** Commands: persisted, published to the device, followed to their result. */
export const commandRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.post('/v1/devices/:name/commands', {
    schema: {
      tags: ['commands'], summary: 'Send a command (one of the device\'s capabilities); a PIN-gated capability needs `pin`.',
      params: Type.Object({ name: DeviceName }),
      body: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 64 }),
        params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS, default: 60 })),
        pin: Type.Optional(Type.String({ maxLength: 32 })),
      }, { additionalProperties: false }),
      response: { 201: Command, ...errors },
    },
  }, async (request, reply) => reply.status(201).send(await core.commands.issue(contextOf(request), request.params.name, request.body)));

  app.get('/v1/commands/:id', {
    schema: {
      tags: ['commands'], summary: 'A command and its status; `?wait=5s` holds the answer until it finishes or the wait runs out (30 s at most).',
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      querystring: Type.Object({ wait: Type.Optional(Type.String({ maxLength: 16 })) }),
      response: { 200: Command, ...errors },
    },
  }, async (request) => core.commands.waitFor(contextOf(request), request.params.id, parseWait(request.query.wait)));
};
