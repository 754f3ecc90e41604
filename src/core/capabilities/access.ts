import { Type } from 'typebox';
import type { CapabilityDefinition } from './capability.js';

const noParams = Type.Object({}, { additionalProperties: false, examples: [{}] });

/**
 * What lets people in: locks, garage doors, gates, blinds, security panels.
 * Unlocking, opening and disarming are `sensitive`: Google's certification
 * expects a PIN for each (DESIGN.md §5). Locking, closing and arming are not.
 */
export const ACCESS = {
  lock: {
    description: 'A lock.',
    commands: {
      lock: { description: 'Lock.', params: noParams, risk: 'normal' },
      unlock: { description: 'Unlock.', params: noParams, risk: 'sensitive' },
    },
    state: { locked: Type.Boolean(), jammed: Type.Boolean() },
  },
  open_close: {
    description: 'Something that opens: a garage door, a gate, blinds, a window.',
    commands: {
      open: { description: 'Open fully.', params: noParams, risk: 'sensitive' },
      close: { description: 'Close fully.', params: noParams, risk: 'normal' },
      // Any position above closed opens it, so it is as sensitive as `open`.
      set_position: {
        description: 'Open to a position, in percent (0 closed, 100 fully open).',
        params: Type.Object({ position: Type.Integer({ minimum: 0, maximum: 100 }) }, { additionalProperties: false, examples: [{ position: 0 }, { position: 40 }] }),
        risk: 'sensitive',
      },
      stop: { description: 'Stop moving.', params: noParams, risk: 'normal' },
    },
    state: { position: Type.Integer({ minimum: 0, maximum: 100, description: '0 closed, 100 fully open.' }), moving: Type.Boolean() },
  },
  arm_disarm: {
    description: 'A security panel.',
    commands: {
      arm: {
        description: 'Arm in a mode.',
        params: Type.Object({ mode: Type.Enum(['home', 'away', 'night']) }, { additionalProperties: false, examples: [{ mode: 'away' }, { mode: 'night' }] }),
        risk: 'normal',
      },
      disarm: { description: 'Disarm.', params: noParams, risk: 'sensitive' },
    },
    state: { arm_mode: Type.Enum(['disarmed', 'home', 'away', 'night']), alarm: Type.Boolean({ description: 'The alarm is sounding.' }) },
  },
} as const satisfies Record<string, CapabilityDefinition>;
