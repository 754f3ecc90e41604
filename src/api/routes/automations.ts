import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Action, AutomationInput, Condition, Trigger } from '../../core/automations/automation-schema.js';
import { MAX_RUN_PAGE } from '../../core/automations/automation-service.js';
import type { Core } from '../../core/create-core.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime, NullableDateTime } from '../schemas.js';

const Automation = Type.Object({
  id: Type.String(), name: Type.String(), enabled: Type.Boolean(), disabledReason: Type.Union([Type.String(), Type.Null()]),
  trigger: Trigger, conditions: Type.Array(Condition), actions: Type.Array(Action), nextFireAt: NullableDateTime, createdAt: DateTime, updatedAt: DateTime,
});
const Run = Type.Object({
  id: Type.String(),
  status: Type.Union(['queued', 'running', 'succeeded', 'failed', 'skipped', 'limited', 'loop_stopped'].map((s) => Type.Literal(s))),
  trigger: Type.Record(Type.String(), Type.Unknown()), triggeredAt: DateTime, scheduledFor: NullableDateTime, late: Type.Boolean(),
  depth: Type.Integer({ description: 'How many runs came before this one in its chain: each triggered by the previous one\'s effect (loop protection).' }),
  causedBy: Type.Union([Type.String(), Type.Null()], { description: 'The run (of this automation or another) whose effect triggered this one.' }),
  conditions: Type.Unknown({ description: 'Each condition with what it saw (`actual`) and whether it `passed`.' }),
  actions: Type.Unknown({ description: 'Each action with `ok`, `result` (command id and status, scene results, recipients, or the error) and `startedAt`/`finishedAt`.' }),
  startedAt: NullableDateTime, finishedAt: NullableDateTime,
});
const Id = Type.Object({ id: Type.String({ maxLength: 64 }) });
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' }, 409: { $ref: 'ErrorResponse#' } };

/** Automations (admins): trigger, conditions, actions, run as the tenant's automation principal; their run history; the tenant's time zone. */
export const automationRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/automations', {
    schema: { tags: ['automations'], summary: 'The tenant\'s automations (admins).', response: { 200: Type.Object({ automations: Type.Array(Automation) }), ...errors } },
  }, async (request) => ({ automations: await core.automations.list(contextOf(request)) }));

  app.post('/v1/automations', {
    schema: {
      tags: ['automations'],
      summary: 'Create an automation (admins). It runs as the tenant\'s automation principal on channel `automation`: normal commands go out, sensitive and critical ones '
        + 'become approval requests; schedules are cron in the tenant\'s time zone.',
      body: AutomationInput, response: { 201: Automation, ...errors },
    },
  }, async (request, reply) => reply.status(201).send(await core.automations.create(contextOf(request), request.body)));

  app.get('/v1/automations/:id', {
    schema: { tags: ['automations'], summary: 'One automation.', params: Id, response: { 200: Automation, ...errors } },
  }, async (request) => core.automations.get(contextOf(request), request.params.id));

  app.put('/v1/automations/:id', {
    schema: { tags: ['automations'], summary: 'Replace an automation (enabling it again after a loop stop).', params: Id, body: AutomationInput, response: { 200: Automation, ...errors } },
  }, async (request) => core.automations.update(contextOf(request), request.params.id, request.body));

  app.delete('/v1/automations/:id', {
    schema: { tags: ['automations'], summary: 'Delete an automation and its history.', params: Id, response: { 204: Type.Null(), ...errors } },
  }, async (request, reply) => {
    await core.automations.remove(contextOf(request), request.params.id);
    return reply.status(204).send(null);
  });

  app.get('/v1/automations/:id/runs', {
    schema: {
      tags: ['automations'], summary: 'The automation\'s runs, newest first: trigger, conditions as evaluated, each action\'s outcome and timings.',
      params: Id,
      querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_RUN_PAGE })), cursor: Type.Optional(Type.String({ maxLength: 200 })) }),
      response: { 200: Type.Object({ items: Type.Array(Run), next: Type.Union([Type.String(), Type.Null()]) }), ...errors },
    },
  }, async (request) => core.automations.runs(contextOf(request), request.params.id, request.query));

  app.get('/v1/automations/time-zone', {
    schema: { tags: ['automations'], summary: 'The tenant\'s time zone (IANA), in which schedules and time windows are read.', response: { 200: Type.Object({ timeZone: Type.String() }), ...errors } },
  }, async (request) => ({ timeZone: await core.automations.timeZone(contextOf(request)) }));

  app.put('/v1/automations/time-zone', {
    schema: {
      tags: ['automations'], summary: 'Set the tenant\'s time zone (admins); schedules\' next firings are computed again in it.',
      body: Type.Object({ timeZone: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ timeZone: Type.String() }), ...errors },
    },
  }, async (request) => ({ timeZone: await core.automations.setTimeZone(contextOf(request), request.body.timeZone) }));
};
