import { Type } from 'typebox';
import type { CapabilityDefinition } from './capability.js';

/**
 * Named actions on the device itself. A factory reset and a firmware update
 * are `critical` (seed 003: "Firmware / config update", "Run high-risk
 * actions ... reset": a person approves them, no voice assistant may ask).
 */
export const MAINTENANCE = {
  restart: {
    description: 'Restart the device.',
    commands: {
      restart: {
        description: 'Restart, optionally after a delay.',
        params: Type.Object({ delay_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })) }, { additionalProperties: false, examples: [{}, { delay_seconds: 30 }] }),
        risk: 'normal',
      },
    },
    state: {},
  },
  factory_reset: {
    description: 'Erase the device back to its factory settings.',
    commands: { factory_reset: { description: 'Erase everything.', params: Type.Object({}, { additionalProperties: false, examples: [{}] }), risk: 'critical' } },
    state: {},
  },
  update_firmware: {
    description: 'Install a firmware version.',
    commands: {
      update_firmware: {
        description: 'Fetch and install a firmware version.',
        params: Type.Object({
          version: Type.String({ minLength: 1, maxLength: 64 }),
          url: Type.Optional(Type.String({ pattern: '^https://', maxLength: 2048, description: 'Where to fetch it (HTTPS only).' })),
        }, { additionalProperties: false, examples: [{ version: '2.4.1' }, { version: '2.5.0-rc1', url: 'https://firmware.example.com/2.5.0-rc1.bin' }] }),
        risk: 'critical',
      },
    },
    state: { firmware_version: Type.String() },
  },
} as const satisfies Record<string, CapabilityDefinition>;
