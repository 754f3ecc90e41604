import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MAX_TTL_SECONDS } from '../../core/commands/command-service.js';
import type { Core } from '../../core/create-core.js';
import { GatewayError } from '../../core/errors.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime, DeviceName, NullableDateTime } from '../schemas.js';

const Command = Type.Object({
  id: Type.String(), device: Type.String(), name: Type.String(), params: Type.Record(Type.String(), Type.Unknown()),
  status: Type.Union([
    Type.Literal('awaiting_approval'), Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('succeeded'),
    Type.Literal('failed'), Type.Literal('expired'), Type.Literal('denied'),
  ]),
  result: Type.Unknown(),
  createdAt: DateTime, expiresAt: DateTime,
  deliveredAt: NullableDateTime, completedAt: NullableDateTime,
});
const errors = {
  400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' },
  409: { $ref: 'ErrorResponse#' }, 423: { $ref: 'ErrorResponse#' }, 504: { $ref: 'ErrorResponse#' },
};
const Wait = Type.Object({ wait: Type.Optional(Type.String({ maxLength: 16 })) });
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
      tags: ['commands'],
      summary: 'Send a command (one of the device\'s capabilities). Sensitive ones from web or mobile need `confirm: true`; PIN-gated ones need `pin`; '
        + 'critical ones wait for a person\'s approval (`awaiting_approval`). `Idempotency-Key`: a retry within a day answers with the same command. '
        + '`?wait=5s`: answer with the device\'s result (DEVICE_OFFLINE when it is offline; COMMAND_TIMEOUT when it is too slow, the command stays pending).',
      params: Type.Object({ name: DeviceName }),
      querystring: Wait,
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
      body: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 64 }),
        params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS, default: 60 })),
        pin: Type.Optional(Type.String({ maxLength: 32 })),
        confirm: Type.Optional(Type.Boolean()),
      }, { additionalProperties: false }),
      response: { 201: Command, ...errors },
    },
  }, async (request, reply) => {
    const command = await core.commands.issueAndWait(contextOf(request), request.params.name, { ...request.body, idempotencyKey: request.headers['idempotency-key'] }, parseWait(request.query.wait));
    return reply.status(201).send(command);
  });

  for (const decision of ['approve', 'deny'] as const) {
    app.post(`/v1/commands/:id/${decision}`, {
      schema: {
        tags: ['commands'],
        summary: decision === 'approve'
          ? 'Approve a command awaiting approval (owners, admins, the device\'s owner; from web or mobile, not the channel that asked): it goes on to the device.'
          : 'Deny a command awaiting approval: it never reaches the device.',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: Command, ...errors },
      },
    }, async (request) => core.approvals[decision](contextOf(request), request.params.id));
  }

  app.get('/v1/commands/:id', {
    schema: {
      tags: ['commands'], summary: 'A command and its status; `?wait=5s` holds the answer until it finishes or the wait runs out (30 s at most).',
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      querystring: Wait,
      response: { 200: Command, ...errors },
    },
  }, async (request) => core.commands.waitFor(contextOf(request), request.params.id, parseWait(request.query.wait)));
};
