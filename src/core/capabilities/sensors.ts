import { Type } from 'typebox';
import type { CapabilityDefinition } from './capability.js';

/** Read-only capabilities: they accept no command and report state. */
export const SENSORS = {
  temperature: { description: 'Temperature, in degrees Celsius.', commands: {}, state: { temperature: Type.Number() } },
  humidity: { description: 'Relative humidity, in percent.', commands: {}, state: { humidity: Type.Number({ minimum: 0, maximum: 100 }) } },
  contact: { description: 'A contact sensor (door, window).', commands: {}, state: { contact: Type.Enum(['open', 'closed']) } },
  motion: { description: 'A motion sensor.', commands: {}, state: { motion: Type.Boolean() } },
  battery: {
    description: 'Battery level, in percent.',
    commands: {},
    state: { battery: Type.Integer({ minimum: 0, maximum: 100 }), battery_low: Type.Boolean() },
  },
} as const satisfies Record<string, CapabilityDefinition>;
