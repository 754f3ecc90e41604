import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { CAPABILITY_NAMES, DEVICE_TYPES } from '../../core/capabilities/catalogue.js';
import { MAX_PAGE } from '../../core/telemetry/telemetry-reader.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime, DeviceName, NullableDateTime, queryDate } from '../schemas.js';
import { capabilityRoutes } from './capabilities.js';
import { deviceEventRoutes } from './device-events.js';

const Device = Type.Object({
  id: Type.String(), name: Type.String(), type: Type.String(), status: Type.String(), online: Type.Boolean(),
  lastSeenAt: NullableDateTime, createdAt: DateTime,
});
const DeviceDetail = Type.Intersect([Device, Type.Object({
  state: Type.Unknown(), stateUpdatedAt: NullableDateTime,
  telemetryCount: Type.Integer({ description: 'Telemetry rows stored for this device.' }),
  capabilities: Type.Array(Type.Object({ name: Type.String(), requiresPin: Type.Boolean(), requiresApproval: Type.Boolean() })),
})]);
// Names are checked by the core against the catalogue (VALIDATION_FAILED naming the unknown one), not by an enum here.
const NewDevice = Type.Object({
  name: DeviceName,
  type: Type.Optional(Type.String({ maxLength: 64, default: 'other', description: `One of ${DEVICE_TYPES.join(', ')}.` })),
  capabilities: Type.Optional(Type.Array(Type.Object({
    name: Type.String({ maxLength: 64, description: `One of ${CAPABILITY_NAMES.join(', ')} (GET /v1/capabilities).` }),
    requiresPin: Type.Optional(Type.Boolean({ description: 'Raise its commands to need the voice PIN on every channel (never lowers the catalogue risk).' })),
    requiresApproval: Type.Optional(Type.Boolean({ description: 'Raise its commands to critical: a person approves each.' })),
  }, { additionalProperties: false }), { maxItems: 64 })),
}, { additionalProperties: false });
const Registered = Type.Object({ id: Type.String(), name: Type.String(), username: Type.String(), password: Type.String({ description: 'The MQTT password, shown only this once.' }) });
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } };

/** Devices and their telemetry, tenant-scoped through the core. */
export const deviceRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  await app.register(deviceEventRoutes, { core });
  await app.register(capabilityRoutes);

  app.get('/v1/devices', { schema: { tags: ['devices'], summary: 'The devices of the active tenant.', response: { 200: Type.Array(Device), ...errors } } },
    async (request) => core.devices.list(contextOf(request)));

  app.post('/v1/devices', {
    schema: {
      tags: ['devices'], summary: 'Register a device (its type and capabilities from the catalogue) and issue its MQTT credential.',
      body: NewDevice, response: { 201: Registered, 409: { $ref: 'ErrorResponse#' }, ...errors },
    },
  }, async (request, reply) => reply.status(201).send(await core.devices.register(contextOf(request), request.body)));

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
          items: Type.Array(Type.Object({ id: Type.String(), stream: Type.String(), receivedAt: DateTime, payload: Type.Unknown() })),
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
