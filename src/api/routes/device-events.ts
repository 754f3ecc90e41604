import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { MAX_EVENT_PAGE } from '../../core/devices/device-events.js';
import { contextOf } from '../caller.js';
import { DateTime, DeviceName, queryDate } from '../schemas.js';

const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } };

/** Stored device events (alarms, button presses, low battery); registered inside deviceRoutes, which authenticates. */
export const deviceEventRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.get('/v1/devices/:name/events', {
    schema: {
      tags: ['devices'], summary: 'Events the device published on devices/<name>/events[/<kind>], newest first, in pages (follow `next`).',
      params: Type.Object({ name: DeviceName }),
      querystring: Type.Object({
        from: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601, inclusive.' })),
        to: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601, exclusive.' })),
        kind: Type.Optional(Type.String({ maxLength: 200, description: 'Only this kind: the topic levels after events/ ("" for events itself).' })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EVENT_PAGE, default: 100 })),
        cursor: Type.Optional(Type.String({ maxLength: 200 })),
      }),
      response: {
        200: Type.Object({
          items: Type.Array(Type.Object({ id: Type.String(), kind: Type.String(), receivedAt: DateTime, payload: Type.Unknown() })),
          next: Type.Union([Type.String(), Type.Null()]),
        }),
        ...errors,
      },
    },
  }, async (request) => {
    const { from, to, kind, limit, cursor } = request.query;
    return core.deviceEvents.list(contextOf(request), request.params.name, { from: queryDate(from, 'from'), to: queryDate(to, 'to'), kind, limit, cursor });
  });
};
