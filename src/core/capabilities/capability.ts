import type { TSchema } from 'typebox';
import type { RiskClass } from './risk.js';

/**
 * One command a capability accepts. `params` is a TypeBox schema, so it is
 * also JSON Schema: OpenAPI and the voice adapters reuse it as it is, and its
 * `examples` are the documented, valid parameter sets (checked by the unit tests).
 */
export type CommandDefinition = Readonly<{
  description: string;
  params: TSchema;
  risk: RiskClass;
}>;

/**
 * A capability: what a device can do and report. Command names are unique
 * across the whole catalogue (a command names its capability), and so are
 * state fields (each is one key of the device's retained `devices/<name>/state`
 * JSON, read as the schema says).
 */
export type CapabilityDefinition = Readonly<{
  description: string;
  commands: Readonly<Record<string, CommandDefinition>>;
  state: Readonly<Record<string, TSchema>>;
}>;
