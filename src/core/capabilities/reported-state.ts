import { Value } from 'typebox/value';
import type { CapabilityDefinition } from './capability.js';
import { CAPABILITIES, isCapabilityName } from './catalogue.js';

/**
 * The state fields a device's capabilities report, read from its retained
 * state JSON: each field the catalogue names, when the device sent it in the
 * catalogue's shape. Anything else the device sent is left out, so a voice
 * adapter can hand the result to Alexa or Google as it is.
 */
export function reportedState(capabilities: readonly string[], state: unknown): Record<string, unknown> {
  const reported: Record<string, unknown> = {};
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return reported;
  const values = state as Record<string, unknown>;
  for (const name of capabilities) {
    if (!isCapabilityName(name)) continue;
    for (const [field, schema] of Object.entries((CAPABILITIES[name] as CapabilityDefinition).state)) {
      if (Object.hasOwn(values, field) && Value.Check(schema, values[field])) reported[field] = values[field];
    }
  }
  return reported;
}
