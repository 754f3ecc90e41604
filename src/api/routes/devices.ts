import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { GatewayError } from '../../core/errors.js';
import { MAX_PAGE } from '../../core/telemetry/telemetry-reader.js';
import { authenticateWith, contextOf } from '../caller.js';
import { DateTime, DeviceName, NullableDateTime } from '../schemas.js';

const Device = Type.Object({
  id: Type.String(), name: Type.String(), status: Type.String(), online: Type.Boolean(),
  lastSeenAt: NullableDateTime, createdAt: DateTime,
});
const DeviceDetail = Type.Intersect([Device, Type.Object({
  state: Type.Unknown(), stateUpdatedAt: NullableDateTime,
  telemetryCount: Type.Integer({ description: 'Telemetry rows stored for this device.' }),
  capabilities: Type.Array(Type.Object({ name: Type.String(), requiresPin: Type.Boolean(), requiresApproval: Type.Boolean() })),
})]);
const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } };

function date(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw new GatewayError('VALIDATION_FAILED', `${name} must be an ISO 8601 date-time.`);
  return parsed;
}

/** Devices and their telemetry, tenant-scoped through the core. */
export const deviceRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.addHook('preHandler', authenticateWith(core.auth.requests));

  app.get('/v1/devices', { schema: { tags: ['devices'], summary: 'The devices of the active tenant.', response: { 200: Type.Array(Device), ...errors } } },
    async (request) => core.devices.list(contextOf(request)));

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
    return core.telemetryReader.query(contextOf(request), request.params.name, { from: date(from, 'from'), to: date(to, 'to'), stream, limit, cursor });
  });
};
