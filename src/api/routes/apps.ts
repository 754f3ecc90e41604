import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';
import { Confirm } from '../confirmation.js';
import { DateTime } from '../schemas.js';

const Filter = Type.String({ minLength: 1, maxLength: 1024 });
const Filters = Type.Array(Filter, { maxItems: 100 });
const FilterFields = { publish: Type.Array(Type.String()), subscribe: Type.Array(Type.String()), denyPublish: Type.Array(Type.String()), denySubscribe: Type.Array(Type.String()) };
const App = Type.Object({ id: Type.String(), name: Type.String(), username: Type.String(), status: Type.String(), createdAt: DateTime, ...FilterFields });
const IssuedApp = Type.Object({
  id: Type.String(), name: Type.String(), username: Type.String(),
  password: Type.String({ description: 'The MQTT password: shown only this once.' }), ...FilterFields,
});
const AppId = Type.Object({ id: Type.String({ format: 'uuid' }) });
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } };

/** App credentials (MQTT for services and dashboards), administered by the tenant: permission tenant.apps.manage (admins). */
export const appRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));
  const apps = core.auth.apps;

  app.get('/v1/apps', {
    schema: { tags: ['apps'], summary: 'The tenant\'s app credentials with their topic filters (never their secrets). Admins.', response: { 200: Type.Object({ apps: Type.Array(App) }), ...errors } },
  }, async (request) => ({ apps: await apps.list(contextOf(request)) }));

  app.post('/v1/apps', {
    schema: {
      tags: ['apps'],
      summary: 'Create an app credential, as `gatehouse app create` does: by default its whole tenant; deny filters win; never the command topics. Answers 201 with the MQTT username and password, shown once. Admins; 409 CONFLICT for a name in use.',
      body: Type.Object({
        name: Type.String({ minLength: 1, maxLength: 64 }),
        publish: Type.Optional(Filters), subscribe: Type.Optional(Filters), denyPublish: Type.Optional(Filters), denySubscribe: Type.Optional(Filters),
        confirm: Confirm,
      }, { additionalProperties: false }),
      response: { 201: IssuedApp, ...errors, 409: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    const { confirm, ...input } = request.body;
    return reply.status(201).send(await apps.create(contextOf(request), { ...input, confirmed: confirm }));
  });

  app.post('/v1/apps/:id/secret', {
    schema: {
      tags: ['apps'],
      summary: 'Rotate the app\'s secret: the new password is shown once; the old one is refused from now on and the app\'s live MQTT connections are dropped. Admins; no body, `?confirm=true` from the mobile channel.',
      params: AppId,
      querystring: Type.Object({ confirm: Confirm }),
      response: { 200: IssuedApp, ...errors },
    },
  }, async (request) => apps.rotate(contextOf(request), request.params.id, { confirmed: request.query.confirm }));

  app.delete('/v1/apps/:id', {
    schema: {
      tags: ['apps'], summary: 'Delete the app credential: its live MQTT connections are dropped and it is refused from now on. Admins; `?confirm=true` from the mobile channel.',
      params: AppId,
      querystring: Type.Object({ confirm: Confirm }),
      response: { 204: Type.Null(), ...errors },
    },
  }, async (request, reply) => {
    await apps.remove(contextOf(request), request.params.id, { confirmed: request.query.confirm });
    return reply.status(204).send(null);
  });
};
