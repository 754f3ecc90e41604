import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Core } from '../../core/create-core.js';
import { contextOf } from '../caller.js';
import { DeviceName } from '../schemas.js';
import { DeviceChange, errors, NewDevices, Registered, Removal, Suspension } from './device-schemas.js';
import { Confirm } from '../confirmation.js';

const Name = Type.Object({ name: DeviceName });
/** `{ "confirm": true }` in an optional body. */
const confirmedIn = (body: unknown) => (body as { confirm?: unknown } | null | undefined)?.confirm === true;
const conflict = { 409: { $ref: 'ErrorResponse#' } };
/** 1 000 entries with every optional field near its bound stay under 2 MiB; the gateway's default is 256 KiB. */
const BATCH_BODY_LIMIT = 2 * 1024 * 1024;

/**
 * Managing devices: fleet registration, changes, secret rotation, suspension,
 * removal (registered inside deviceRoutes, which authenticates). Permissions:
 * device.register, device.manage, data.purge; from mobile each needs `confirm`.
 */
export const deviceManagementRoutes: FastifyPluginAsyncTypebox<{ core: Core }> = async (app, { core }) => {
  app.post('/v1/devices/batch', {
    bodyLimit: BATCH_BODY_LIMIT,
    schema: {
      tags: ['devices'],
      summary: 'Register up to 1 000 devices in one transaction, all or none (device.register). Every entry is checked first; a 400 lists each bad one by index '
        + '(details.problems), names given twice or already taken included. Each secret is shown only in this answer. About 25 ms of argon2id per device.',
      body: NewDevices, response: { 201: Type.Object({ devices: Type.Array(Registered) }), ...conflict, ...errors },
    },
  }, async (request, reply) => {
    const devices = await core.devices.registerBatch(contextOf(request), request.body.devices, { confirm: request.body.confirm });
    return reply.status(201).send({ devices });
  });

  app.patch('/v1/devices/:name', {
    schema: {
      tags: ['devices'],
      summary: 'Change a device (device.manage): display name, nicknames, room, owner, capabilities (replacing the set) and their risk tightening. '
        + 'A change voice platforms show announces device.updated.',
      params: Name, body: DeviceChange, response: { 204: Type.Null(), ...errors },
    },
  }, async (request, reply) => {
    await core.devices.update(contextOf(request), request.params.name, request.body);
    return reply.status(204).send(null);
  });

  app.post('/v1/devices/:name/secret', {
    schema: {
      tags: ['devices'], summary: 'Issue a new MQTT secret (device.manage): the old one is refused from now on and the device\'s live connections are dropped. From mobile: body `{ "confirm": true }`.',
      // No body schema: the body is optional (`{ "confirm": true }` from mobile), and a schema would make fastify demand one.
      params: Name, response: { 200: Type.Object({ username: Type.String(), password: Type.String({ description: 'Shown only this once.' }) }), ...errors },
    },
  }, async (request) => core.devices.rotateSecret(contextOf(request), request.params.name, { confirm: confirmedIn(request.body) }));

  app.post('/v1/devices/:name/suspension', {
    schema: {
      tags: ['devices'], summary: 'Suspend (`suspended: true`: connections dropped, new ones refused) or reinstate a device (device.manage).',
      params: Name, body: Suspension, response: { 204: Type.Null(), ...errors },
    },
  }, async (request, reply) => {
    await core.devices.setStatus(contextOf(request), request.params.name, request.body.suspended ? 'suspended' : 'active', { confirm: request.body.confirm });
    return reply.status(204).send(null);
  });

  app.delete('/v1/devices/:name', {
    schema: {
      tags: ['devices'],
      summary: 'Remove a device (device.manage): its connections are dropped and device.removed announced. Its telemetry stays until retention removes it; '
        + '`?purge=true` (also data.purge) deletes it in the same transaction. From mobile: `?confirm=true`.',
      params: Name,
      querystring: Type.Object({ purge: Type.Optional(Type.Boolean({ default: false })), confirm: Confirm }),
      response: { 200: Removal, ...errors },
    },
  }, async (request) => core.devices.remove(contextOf(request), request.params.name, { purge: request.query.purge, confirm: request.query.confirm }));

  app.delete('/v1/devices/:name/data', {
    schema: {
      tags: ['devices'], summary: 'Delete a device\'s telemetry and events now and keep the device (data.purge, audited as DATA_PURGED). From mobile: `?confirm=true`.',
      params: Name, querystring: Type.Object({ confirm: Confirm }),
      response: { 200: Type.Object({ name: Type.String(), telemetryDeleted: Type.Integer(), eventsDeleted: Type.Integer() }), ...errors },
    },
  }, async (request) => core.devices.purgeData(contextOf(request), request.params.name, { confirm: request.query.confirm }));
};
