import type { DeviceType } from '../../core/capabilities/catalogue.js';
import type { Trait } from './traits/trait.js';

/** The catalogue's device types as Google's: https://developers.home.google.com/cloud-to-cloud/guides */
const TYPES: Record<Exclude<DeviceType, 'other'>, string> = {
  light: 'LIGHT', switch: 'SWITCH', outlet: 'OUTLET', lock: 'LOCK', thermostat: 'THERMOSTAT', sensor: 'SENSOR',
  garage: 'GARAGE', blinds: 'BLINDS', fan: 'FAN', security_panel: 'SECURITYSYSTEM',
};

/** `other` is named by what it does: a scene, something that switches, or a sensor. */
export function googleType(type: DeviceType, traits: readonly Trait[]): string {
  if (type !== 'other') return `action.devices.types.${TYPES[type]}`;
  if (traits.length > 0 && traits.every((trait) => trait.capability === 'scene')) return 'action.devices.types.SCENE';
  return `action.devices.types.${traits.some((trait) => trait.commands) ? 'SWITCH' : 'SENSOR'}`;
}
