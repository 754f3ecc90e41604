import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { MAX_PAGE } from '../../core/telemetry/telemetry-reader.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime, DeviceName, queryDate } from '../schemas.js';
import { capabilityRoutes } from './capabilities.js';
import { deviceEventRoutes } from './device-events.js';
import { deviceManagementRoutes } from './device-management.js';
import { Device, DeviceDetail, errors, NewDevice, Registered } from './device-schemas.js';

/** Devices and their telemetry, tenant-scoped through the core. */
export const deviceRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  await app.register(deviceEventRoutes, { core });
  await app.register(capabilityRoutes);
  await app.register(deviceManagementRoutes, { core });

  app.get('/v1/devices', { schema: { tags: ['devices'], summary: 'The devices of the active tenant.', response: { 200: Type.Array(Device), ...errors } } },
    async (request) => core.devices.list(contextOf(request)));

  app.post('/v1/devices', {
    schema: {
      tags: ['devices'], summary: 'Register a device (device.register): its type and capabilities from the catalogue, what voice platforms show, '
        + 'its owner, its certificate CN; issue its MQTT credential (the secret shown only in this answer).',
      body: NewDevice, response: { 201: Registered, 409: { $ref: 'ErrorResponse#' }, ...errors },
    },
  }, async (request, reply) => {
    const { confirm, ...device } = request.body;
    return reply.status(201).send(await core.devices.register(contextOf(request), device, { confirm }));
  });

  app.get('/v1/devices/:name', {
    schema: { tags: ['devices'], summary: 'One device: state, presence, last seen, telemetry count, capabilities.', params: Type.Object({ name: DeviceName }), response: { 200: DeviceDetail, ...errors } },
  }, async (request) => core.devices.get(contextOf(request), request.params.name));

  app.get('/v1/devices/:name/telemetry', {
    schema: {
      tags: ['devices'], summary: 'Stored telemetry, newest first, in pages (follow `next`).',
      params: Type.Object({ name: DeviceName }),
      querystring: Type.Object({
        from: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601, inclusive.' })),
        to: Type.Optional(Type.String({ maxLength: 64, description: 'ISO 8601, exclusive.' })),
        stream: Type.Optional(Type.String({ maxLength: 256 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 100 })),
        cursor: Type.Optional(Type.String({ maxLength: 200 })),
      }),
      response: {
        200: Type.Object({
          items: Type.Array(Type.Object({
            id: Type.String(), stream: Type.String(), receivedAt: DateTime,
            payload: Type.Optional(Type.Unknown({ description: 'A JSON payload, as JSON.' })),
            payloadBase64: Type.Optional(Type.String({ description: 'Any other payload: its bytes, base64.' })),
            contentType: Type.Optional(Type.String({ description: 'With payloadBase64: the publisher\'s content type, else application/octet-stream.' })),
          })),
          next: Type.Union([Type.String(), Type.Null()]),
        }),
        ...errors,
      },
    },
  }, async (request) => {
    const { from, to, stream, limit, cursor } = request.query;
    return core.telemetryReader.query(contextOf(request), request.params.name, { from: queryDate(from, 'from'), to: queryDate(to, 'to'), stream, limit, cursor });
  });
};
