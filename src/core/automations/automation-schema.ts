import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { GatewayError } from '../errors.js';

/**
 * The documents scenes and automations are made of, validated here (the API
 * uses the same schemas for its bodies and OpenAPI). Devices are named as the
 * caller names them; the services resolve the names inside the caller's tenant.
 */
const DeviceRef = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' });
const CommandName = Type.String({ minLength: 1, maxLength: 64 });
const Params = Type.Record(Type.String(), Type.Unknown());
const Uuid = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });
const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, in the tenant\'s time zone.' });
const Field = Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$', description: 'A field of the device\'s reported state; dots reach into objects.' });

export const SceneCommand = Type.Object({ device: DeviceRef, command: CommandName, params: Type.Optional(Params) }, { additionalProperties: false });
export type SceneCommand = Static<typeof SceneCommand>;

export const SceneInput = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  commands: Type.Array(SceneCommand, { minItems: 1, maxItems: 50 }),
  voice: Type.Optional(Type.Boolean({ description: 'Offered to the tenant\'s voice platforms (each command still passes the voice policy).' })),
}, { additionalProperties: false });
export type SceneInput = Static<typeof SceneInput>;

export const Trigger = Type.Union([
  Type.Object({ kind: Type.Literal('event'), device: DeviceRef, event: Type.String({ minLength: 1, maxLength: 200, description: 'A topic filter over the event kind (the levels after events/): "water", "alarm/#".' }) }, { additionalProperties: false }),
  Type.Object({
    kind: Type.Literal('threshold'), device: DeviceRef, field: Field,
    above: Type.Optional(Type.Number()), below: Type.Optional(Type.Number()),
    hysteresis: Type.Optional(Type.Number({ minimum: 0, description: 'The value must go back past the threshold by this much before it fires again.' })),
  }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('offline'), device: DeviceRef, minutes: Type.Integer({ minimum: 1, maximum: 10_080 }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('schedule'), cron: Type.String({ minLength: 9, maxLength: 100, description: 'Five fields (minute hour day month weekday), in the tenant\'s time zone.' }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('command_failed'), device: Type.Optional(DeviceRef) }, { additionalProperties: false }),
]);
export type Trigger = Static<typeof Trigger>;

export const Comparison = Type.Union([Type.Literal('eq'), Type.Literal('ne'), Type.Literal('gt'), Type.Literal('gte'), Type.Literal('lt'), Type.Literal('lte')]);
export type Comparison = Static<typeof Comparison>;

export const Condition = Type.Union([
  Type.Object({ kind: Type.Literal('state'), device: DeviceRef, field: Field, op: Comparison, value: Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()]) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('time'), after: Clock, before: Clock }, { additionalProperties: false }),
]);
export type Condition = Static<typeof Condition>;

export const Action = Type.Union([
  Type.Object({ kind: Type.Literal('command'), device: DeviceRef, command: CommandName, params: Type.Optional(Params) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('scene'), scene: Uuid }, { additionalProperties: false }),
  Type.Object({
    kind: Type.Literal('notify'), to: Type.Array(Uuid, { minItems: 1, maxItems: 50, description: 'Member user ids.' }),
    message: Type.String({ minLength: 1, maxLength: 200 }), critical: Type.Optional(Type.Boolean()),
  }, { additionalProperties: false }),
]);
export type Action = Static<typeof Action>;

export const AutomationInput = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  enabled: Type.Optional(Type.Boolean()),
  trigger: Trigger,
  conditions: Type.Optional(Type.Array(Condition, { maxItems: 20 })),
  actions: Type.Array(Action, { minItems: 1, maxItems: 20 }),
}, { additionalProperties: false });
export type AutomationInput = Static<typeof AutomationInput>;

/** Value.Check, with the first error as VALIDATION_FAILED (the core is called from more than the API). */
export function checkDocument<T>(schema: TSchema, value: unknown, what: string): T {
  if (!Value.Check(schema, value)) {
    const error = (Value.Errors(schema, value) as unknown as { instancePath: string; message: string }[])[0];
    throw new GatewayError('VALIDATION_FAILED', `${what}: ${error?.instancePath || '/'} ${error?.message ?? 'is invalid'}.`, { path: error?.instancePath ?? '' });
  }
  return value as T;
}
