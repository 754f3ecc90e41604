import { Type } from 'typebox';
import type { CapabilityDefinition } from './capability.js';

const noParams = Type.Object({}, { additionalProperties: false, examples: [{}] });

/** Switching and dimming: lights, switches, outlets, scenes. */
export const LIGHTING = {
  power: {
    description: 'On and off.',
    commands: {
      turn_on: { description: 'Switch on.', params: noParams, risk: 'normal' },
      turn_off: { description: 'Switch off.', params: noParams, risk: 'normal' },
    },
    state: { on: Type.Boolean() },
  },
  brightness: {
    description: 'Dimming, in percent.',
    commands: {
      set_brightness: {
        description: 'Set the brightness.',
        params: Type.Object({ brightness: Type.Integer({ minimum: 0, maximum: 100, description: 'Percent.' }) }, { additionalProperties: false, examples: [{ brightness: 0 }, { brightness: 75 }] }),
        risk: 'normal',
      },
    },
    state: { brightness: Type.Integer({ minimum: 0, maximum: 100 }) },
  },
  color_temperature: {
    description: 'White colour temperature, in kelvin.',
    commands: {
      set_color_temperature: {
        description: 'Set the colour temperature.',
        params: Type.Object({ kelvin: Type.Integer({ minimum: 1000, maximum: 10000 }) }, { additionalProperties: false, examples: [{ kelvin: 2700 }, { kelvin: 6500 }] }),
        risk: 'normal',
      },
    },
    state: { color_temperature: Type.Integer({ minimum: 1000, maximum: 10000, description: 'Kelvin.' }) },
  },
  scene: {
    description: 'A scene the device runs (Alexa SceneController, Google Scene).',
    commands: {
      activate_scene: { description: 'Run the scene.', params: noParams, risk: 'normal' },
      deactivate_scene: { description: 'Undo the scene, where the device can.', params: noParams, risk: 'normal' },
    },
    state: {},
  },
} as const satisfies Record<string, CapabilityDefinition>;
