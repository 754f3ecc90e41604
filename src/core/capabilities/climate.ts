import { Type } from 'typebox';
import type { CapabilityDefinition } from './capability.js';

export const THERMOSTAT_MODES = ['off', 'heat', 'cool', 'auto', 'eco', 'fan_only'] as const;

/** Heating, cooling and air. Temperatures are in degrees Celsius. */
export const CLIMATE = {
  thermostat: {
    description: 'A thermostat: setpoint and mode.',
    commands: {
      set_setpoint: {
        description: 'Set the target temperature.',
        params: Type.Object({ celsius: Type.Number({ minimum: 5, maximum: 35 }) }, { additionalProperties: false, examples: [{ celsius: 21 }, { celsius: 18.5 }] }),
        risk: 'normal',
      },
      set_mode: {
        description: 'Set the mode.',
        params: Type.Object({ mode: Type.Enum([...THERMOSTAT_MODES]) }, { additionalProperties: false, examples: [{ mode: 'heat' }, { mode: 'off' }] }),
        risk: 'normal',
      },
    },
    state: { setpoint: Type.Number({ description: 'Celsius.' }), mode: Type.Enum([...THERMOSTAT_MODES]) },
  },
  fan_speed: {
    description: 'Fan speed, in percent.',
    commands: {
      set_fan_speed: {
        description: 'Set the fan speed (0 stops it).',
        params: Type.Object({ speed: Type.Integer({ minimum: 0, maximum: 100, description: 'Percent.' }) }, { additionalProperties: false, examples: [{ speed: 0 }, { speed: 50 }] }),
        risk: 'normal',
      },
    },
    state: { fan_speed: Type.Integer({ minimum: 0, maximum: 100 }) },
  },
} as const satisfies Record<string, CapabilityDefinition>;
