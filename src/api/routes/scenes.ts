import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { SceneCommand, SceneInput } from '../../core/automations/automation-schema.js';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime } from '../schemas.js';

const Scene = Type.Object({ id: Type.String(), name: Type.String(), voice: Type.Boolean(), commands: Type.Array(SceneCommand), createdAt: DateTime, updatedAt: DateTime });
const Result = Type.Object({
  device: Type.String(), command: Type.String(), params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  outcome: Type.Union([Type.Literal('issued'), Type.Literal('refused')]),
  commandId: Type.Optional(Type.String()), status: Type.Optional(Type.String()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});
const Id = Type.Object({ id: Type.String({ maxLength: 64 }) });
const errors = {
  400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' },
  409: { $ref: 'ErrorResponse#' }, 423: { $ref: 'ErrorResponse#' },
};

/** Scenes: managed by members, activated from web and mobile (voice platforms activate them through the core's SceneService). */
export const sceneRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/scenes', {
    schema: { tags: ['scenes'], summary: 'The tenant\'s scenes.', response: { 200: Type.Object({ scenes: Type.Array(Scene) }), ...errors } },
  }, async (request) => ({ scenes: await core.scenes.list(contextOf(request)) }));

  app.post('/v1/scenes', {
    schema: {
      tags: ['scenes'], summary: 'Create a scene: a named list of `{ device, command, params }` (members). Devices and commands are checked now; the gate applies at activation.',
      body: SceneInput, response: { 201: Scene, ...errors },
    },
  }, async (request, reply) => reply.status(201).send(await core.scenes.create(contextOf(request), request.body)));

  app.get('/v1/scenes/:id', {
    schema: { tags: ['scenes'], summary: 'One scene.', params: Id, response: { 200: Scene, ...errors } },
  }, async (request) => core.scenes.get(contextOf(request), request.params.id));

  app.put('/v1/scenes/:id', {
    schema: { tags: ['scenes'], summary: 'Replace a scene.', params: Id, body: SceneInput, response: { 200: Scene, ...errors } },
  }, async (request) => core.scenes.update(contextOf(request), request.params.id, request.body));

  app.delete('/v1/scenes/:id', {
    schema: { tags: ['scenes'], summary: 'Delete a scene.', params: Id, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await core.scenes.remove(contextOf(request), request.params.id);
    return reply.status(204).send(null);
  });

  app.post('/v1/scenes/:id/activate', {
    schema: {
      tags: ['scenes'],
      summary: 'Activate a scene under your own context: every command is checked first, and a refused one (CONFIRMATION_REQUIRED without `confirm: true` '
        + 'for a sensitive command, a wrong `pin`, POLICY_DENIED) runs none of them. Then each is sent; critical ones wait for approval. The result is per command.',
      params: Id,
      body: Type.Object({ confirm: Type.Optional(Type.Boolean()), pin: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ scene: Type.Object({ id: Type.String(), name: Type.String() }), results: Type.Array(Result) }), ...errors },
    },
  }, async (request) => core.scenes.activate(contextOf(request), request.params.id, request.body));
};
