import { Type } from '@fastify/type-provider-typebox';
import { CAPABILITY_NAMES, DEVICE_TYPES } from '../../core/capabilities/catalogue.js';
import { MAX_BATCH, MAX_CERTIFICATE_CN_CHARS, MAX_DISPLAY_NAME_CHARS, MAX_NICKNAME_CHARS, MAX_NICKNAMES, MAX_ROOM_CHARS } from '../../core/devices/device-input.js';
import { DateTime, DeviceName, NullableDateTime } from '../schemas.js';
import { Confirm } from '../confirmation.js';

// Bounds here are the core's too (device-input.ts); the core re-checks trimmed text and says which entry of a batch is wrong.
// Null first: with coerceTypes, a string branch tried first would turn null into "".
const NullableText = (maxLength: number, description: string) => Type.Union([Type.Null(), Type.String({ maxLength })], { description });

/** What voice platforms show: Google SYNC's name.name, name.nicknames and roomHint; Alexa's friendlyName and description. */
const SAYS = {
  displayName: 'Shown by voice platforms (Google name.name, Alexa friendlyName); null: the device\'s name.',
  nicknames: 'Other names voice platforms accept (Google name.nicknames).',
  room: 'The room (Google roomHint, in Alexa\'s description).',
};
const Profile = {
  displayName: NullableText(MAX_DISPLAY_NAME_CHARS, SAYS.displayName),
  nicknames: Type.Array(Type.String({ maxLength: MAX_NICKNAME_CHARS }), { description: SAYS.nicknames }),
  room: NullableText(MAX_ROOM_CHARS, SAYS.room),
};

export const Device = Type.Object({
  id: Type.String(), name: Type.String(), type: Type.String(), status: Type.String(), online: Type.Boolean(),
  lastSeenAt: NullableDateTime, createdAt: DateTime, ...Profile,
});

const Capability = Type.Object({
  name: Type.String({ maxLength: 64, description: `One of ${CAPABILITY_NAMES.join(', ')} (GET /v1/capabilities).` }),
  requiresPin: Type.Optional(Type.Boolean({ description: 'Raise its commands to need the voice PIN on every channel (never lowers the catalogue risk).' })),
  requiresApproval: Type.Optional(Type.Boolean({ description: 'Raise its commands to critical: a person approves each.' })),
}, { additionalProperties: false });

export const DeviceDetail = Type.Intersect([Device, Type.Object({
  state: Type.Unknown(), stateUpdatedAt: NullableDateTime,
  telemetryCount: Type.Integer({ description: 'Telemetry rows stored for this device.' }),
  capabilities: Type.Array(Type.Object({ name: Type.String(), requiresPin: Type.Boolean(), requiresApproval: Type.Boolean() })),
  ownerUserId: Type.Union([Type.String(), Type.Null()]),
  certificateCn: Type.Union([Type.String(), Type.Null()]),
})]);


// Names are checked by the core against the catalogue (VALIDATION_FAILED naming the unknown one), not by an enum here.
const NewDeviceFields = {
  name: DeviceName,
  type: Type.Optional(Type.String({ maxLength: 64, default: 'other', description: `One of ${DEVICE_TYPES.join(', ')}.` })),
  capabilities: Type.Optional(Type.Array(Capability, { maxItems: 64 })),
  displayName: Type.Optional(Type.String({ maxLength: MAX_DISPLAY_NAME_CHARS, description: SAYS.displayName })),
  nicknames: Type.Optional(Type.Array(Type.String({ maxLength: MAX_NICKNAME_CHARS }), { maxItems: MAX_NICKNAMES, description: SAYS.nicknames })),
  room: Type.Optional(Type.String({ maxLength: MAX_ROOM_CHARS, description: SAYS.room })),
  ownerUserId: Type.Optional(Type.String({ format: 'uuid', description: 'A member of the tenant who owns the device (may approve its critical commands).' })),
  certificateCn: Type.Optional(Type.String({ maxLength: MAX_CERTIFICATE_CN_CHARS, description: 'The CN of its client certificate (mTLS), when not its username; unique across the gateway; no "@".' })),
};
export const NewDevice = Type.Object({ ...NewDeviceFields, confirm: Confirm }, { additionalProperties: false });
export const NewDevices = Type.Object({
  devices: Type.Array(Type.Object(NewDeviceFields, { additionalProperties: false }), { minItems: 1, maxItems: MAX_BATCH }),
  confirm: Confirm,
}, { additionalProperties: false });

export const Registered = Type.Object({ id: Type.String(), name: Type.String(), username: Type.String(), password: Type.String({ description: 'The MQTT password, shown only this once.' }) });

export const DeviceChange = Type.Object({
  displayName: Type.Optional(Profile.displayName),
  nicknames: Type.Optional(Type.Array(Type.String({ maxLength: MAX_NICKNAME_CHARS }), { maxItems: MAX_NICKNAMES, description: 'Replaces the nicknames.' })),
  room: Type.Optional(Profile.room),
  ownerUserId: Type.Optional(Type.Union([Type.Null(), Type.String({ format: 'uuid' })], { description: 'A member of the tenant, or null for none.' })),
  capabilities: Type.Optional(Type.Array(Capability, { maxItems: 64, description: 'Replaces the set, with each one\'s risk tightening.' })),
  confirm: Confirm,
}, { additionalProperties: false, minProperties: 1 });

export const Suspension = Type.Object({ suspended: Type.Boolean(), confirm: Confirm }, { additionalProperties: false });
export const Removal = Type.Object({
  name: Type.String(), purged: Type.Boolean(),
  telemetryDeleted: Type.Integer({ description: 'Telemetry rows deleted with it (0 unless ?purge=true; otherwise its telemetry stays until retention removes it).' }),
});

export const errors = {
  400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' },
};
